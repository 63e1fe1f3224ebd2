//! A line difference between two texts (a rendered template and the one in
//! place), as people read it: unified hunks with a few lines of context.

/// One line of a difference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiffLine {
    Same(String),
    Removed(String),
    Added(String),
}

/// The lines of `before` and `after` aligned by their longest common
/// subsequence (`O(n·m)`: templates have hundreds of lines, not millions).
pub fn line_diff(before: &str, after: &str) -> Vec<DiffLine> {
    let a: Vec<&str> = before.lines().collect();
    let b: Vec<&str> = after.lines().collect();
    let (n, m) = (a.len(), b.len());
    // lcs[i][j]: the longest common subsequence of a[i..] and b[j..].
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut lines = Vec::with_capacity(n.max(m));
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            lines.push(DiffLine::Same(a[i].to_string()));
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1]) {
            // Removed before added: a changed line reads "-old" then "+new".
            lines.push(DiffLine::Removed(a[i].to_string()));
            i += 1;
        } else {
            lines.push(DiffLine::Added(b[j].to_string()));
            j += 1;
        }
    }
    lines
}

/// The difference as `-`/`+` lines with `context` unchanged lines around
/// each change (`...` where lines are left out); empty when nothing differs.
pub fn unified_diff(before: &str, after: &str, context: usize) -> String {
    let lines = line_diff(before, after);
    let changed: Vec<bool> = lines
        .iter()
        .map(|l| !matches!(l, DiffLine::Same(_)))
        .collect();
    if !changed.contains(&true) {
        return String::new();
    }
    let near = |k: usize| {
        let from = k.saturating_sub(context);
        let to = (k + context).min(lines.len() - 1);
        changed[from..=to].contains(&true)
    };
    let mut out = String::new();
    let mut skipped = false;
    for (k, line) in lines.iter().enumerate() {
        if !near(k) {
            skipped = true;
            continue;
        }
        if skipped {
            out.push_str("...\n");
            skipped = false;
        }
        let (mark, text) = match line {
            DiffLine::Same(t) => (' ', t),
            DiffLine::Removed(t) => ('-', t),
            DiffLine::Added(t) => ('+', t),
        };
        out.push(mark);
        out.push_str(text);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_changed_line_shows_with_its_context() {
        let before = "a\nb\nc\nd\ne\nf\ng";
        let after = "a\nb\nc\nD\ne\nf\ng";
        assert_eq!(unified_diff(before, after, 1), "...\n c\n-d\n+D\n e\n");
        assert_eq!(unified_diff(before, before, 3), "");
    }

    proptest! {
        /// Dropping the added lines gives back `before`; dropping the
        /// removed ones gives `after`.
        #[test]
        fn the_diff_holds_both_texts(
            before in proptest::collection::vec("[abc]", 0..12),
            after in proptest::collection::vec("[abc]", 0..12),
        ) {
            let (before, after) = (before.join("\n"), after.join("\n"));
            let lines = line_diff(&before, &after);
            let side = |keep_added: bool| -> Vec<String> {
                lines.iter().filter_map(|l| match l {
                    DiffLine::Same(t) => Some(t.clone()),
                    DiffLine::Added(t) if keep_added => Some(t.clone()),
                    DiffLine::Removed(t) if !keep_added => Some(t.clone()),
                    _ => None,
                }).collect()
            };
            prop_assert_eq!(side(false), before.lines().map(str::to_string).collect::<Vec<_>>());
            prop_assert_eq!(side(true), after.lines().map(str::to_string).collect::<Vec<_>>());
        }
    }
}
