"""Creates the deployment-lock table on the emulator, as infra/ does in an account.

    AWS_ENDPOINT_URL=http://127.0.0.1:4566 python create_lock_table.py [TABLE]
"""

import os
import sys

import boto3


def main() -> None:
    table = sys.argv[1] if len(sys.argv) > 1 else "ecs-canary-locks"
    client = boto3.client(
        "dynamodb",
        endpoint_url=os.environ["AWS_ENDPOINT_URL"],
        region_name=os.environ.get("AWS_REGION", "us-east-1"),
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    if table in client.list_tables()["TableNames"]:
        return
    client.create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "lockKey", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "lockKey", "KeyType": "HASH"}],
    )


if __name__ == "__main__":
    main()
