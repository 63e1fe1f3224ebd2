"""Creates what the functions need on the emulator, as infra/ does in an account:
the lock table, the approvals table and the approval topic.

    AWS_ENDPOINT_URL=http://127.0.0.1:4566 python local_resources.py
"""

import os

import boto3

LOCK_TABLE = os.environ.get("ECS_CANARY_LOCK_TABLE", "ecs-canary-locks")
APPROVALS_TABLE = os.environ.get("ECS_CANARY_APPROVALS_TABLE", "ecs-canary-approvals")
TOPIC = os.environ.get("ECS_CANARY_TOPIC", "ecs-canary-approvals")


def client(service: str):  # noqa: ANN201
    return boto3.client(
        service,
        endpoint_url=os.environ["AWS_ENDPOINT_URL"],
        region_name=os.environ.get("AWS_REGION", "us-east-1"),
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def table(dynamodb, name: str, key: str) -> None:  # noqa: ANN001
    if name in dynamodb.list_tables()["TableNames"]:
        return
    dynamodb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
        KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
    )


def main() -> None:
    dynamodb = client("dynamodb")
    table(dynamodb, LOCK_TABLE, "lockKey")
    table(dynamodb, APPROVALS_TABLE, "approvalId")
    print(client("sns").create_topic(Name=TOPIC)["TopicArn"])


if __name__ == "__main__":
    main()
