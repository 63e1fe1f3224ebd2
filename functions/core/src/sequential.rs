//! An anytime-valid comparison of the new version with stable: intervals
//! that hold at every look at once, however often a person (or the watch)
//! looks at them, and the recommendation they support.
//!
//! **5xx rate.** Each version's rate gets a confidence sequence from a
//! conjugate-mixture martingale (Howard, Ramdas, McAuliffe and Sekhon,
//! "Time-uniform, nonparametric, nonasymptotic confidence sequences", 2021;
//! the beta-binomial case): after `S` 5xx in `S + F` requests,
//! `M(p) = ∫ q^S (1-q)^F dBeta(½,½)(q) / (p^S (1-p)^F)` is a nonnegative
//! martingale with mean 1 when `p` is the true rate, so by Ville's
//! inequality `P(M(p) ever ≥ 2/α) ≤ α/2`. The rates with `M(p) < 2/α` are
//! each version's interval; both hold together with probability `1 − α`
//! at every moment, and so does their difference (the candidate's interval
//! minus stable's).
//!
//! **Latency.** The per-minute p99 differences (new minus stable) get the
//! same construction on their signs, a sign test made sequential: if the
//! median difference is `δ`, each minute lies above `δ` with probability ½.
//! The bound is the largest `δ` not ruled out.
//!
//! **Assumptions.** Requests are independent and each version's 5xx rate is
//! constant over the window; the minutes' latency differences are
//! independent with a common median. Shifting traffic between versions does
//! not matter (the intervals condition on how many requests each served).

use serde::{Deserialize, Serialize};

use crate::{AnalysisLimits, Timeline, WindowEvidence};

/// The intervals' confidence: 1 − α.
pub const CONFIDENCE_PERCENT: u32 = 95;
const ALPHA: f64 = 0.05;

/// The tolerance a recommendation is made against when a request sets none
/// (`maxErrorRateIncrease`): advice only, nothing automatic.
pub const ADVICE_TOLERANCE_POINTS: f64 = 1.0;

/// The longest a wait is estimated for: beyond it, "not within a day".
const LONGEST_ESTIMATE_MINUTES: u64 = 24 * 60;

/// Jeffreys' prior, Beta(½, ½): the mixture's weight over rates.
const PRIOR: f64 = 0.5;

/// `ln Γ(x)` for `x > 0` (Lanczos, g = 7, nine terms: about 15 digits).
fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const COEFFICIENTS: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x) Γ(1 − x) = π / sin(πx).
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut sum = COEFFICIENTS[0];
    for (i, c) in COEFFICIENTS.iter().enumerate().skip(1) {
        sum += c / (x + i as f64);
    }
    let t = x + G + 0.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

fn ln_beta(a: f64, b: f64) -> f64 {
    ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b)
}

/// `x ln y`, 0 when `x` is.
fn x_ln_y(x: f64, y: f64) -> f64 {
    if x == 0.0 {
        0.0
    } else {
        x * y.ln()
    }
}

/// `ln M(p)` after `hits` of `trials`, as a function of the rate `p`: the
/// mixture's part (which `p` does not change) is computed once.
fn ln_mixture(hits: f64, trials: f64) -> impl Fn(f64) -> f64 {
    let misses = trials - hits;
    let mixture = ln_beta(PRIOR + hits, PRIOR + misses) - ln_beta(PRIOR, PRIOR);
    move |p| mixture - x_ln_y(hits, p) - x_ln_y(misses, 1.0 - p)
}

/// The rates (0 to 1) not ruled out at level `alpha` after `hits` of
/// `trials`: `ln M` is convex in `p` with its least value at `hits /
/// trials`, so they are one interval, found by bisection on each side.
pub fn rate_interval(hits: f64, trials: f64, alpha: f64) -> (f64, f64) {
    let trials = if trials.is_finite() {
        trials.max(0.0)
    } else {
        0.0
    };
    if trials == 0.0 {
        return (0.0, 1.0);
    }
    let hits = if hits.is_finite() {
        hits.clamp(0.0, trials)
    } else {
        0.0
    };
    let threshold = (1.0 / alpha).ln();
    let ln_m = ln_mixture(hits, trials);
    let kept = |p: f64| ln_m(p) < threshold;
    let estimate = hits / trials;
    // `inside` is kept, `outside` not: halve the distance.
    let edge = |mut inside: f64, mut outside: f64| {
        for _ in 0..60 {
            let middle = 0.5 * (inside + outside);
            if kept(middle) {
                inside = middle;
            } else {
                outside = middle;
            }
        }
        inside
    };
    let low = if kept(0.0) { 0.0 } else { edge(estimate, 0.0) };
    let high = if kept(1.0) { 1.0 } else { edge(estimate, 1.0) };
    (low, high)
}

/// The 5xx rates of both versions and their difference, in percentage
/// points, with the difference's anytime-valid interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorComparison {
    pub candidate_rate: f64,
    pub stable_rate: f64,
    /// Candidate minus stable.
    pub increase: f64,
    pub low: f64,
    pub high: f64,
}

impl ErrorComparison {
    /// From the two versions' requests and 5xx so far.
    pub fn of(window: &WindowEvidence) -> ErrorComparison {
        let rate = |stats: &crate::TrafficStats| {
            let (low, high) = rate_interval(stats.errors(), stats.requests, ALPHA / 2.0);
            (100.0 * low, 100.0 * high)
        };
        let (candidate_low, candidate_high) = rate(&window.candidate);
        let (stable_low, stable_high) = rate(&window.stable);
        let candidate_rate = window.candidate.error_rate().unwrap_or_default();
        let stable_rate = window.stable.error_rate().unwrap_or_default();
        ErrorComparison {
            candidate_rate,
            stable_rate,
            increase: candidate_rate - stable_rate,
            low: candidate_low - stable_high,
            high: candidate_high - stable_low,
        }
    }
}

/// What the numbers support.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "action")]
pub enum Recommendation {
    /// The interval lies below the tolerance: an increase that large is ruled out.
    Continue,
    /// Not enough yet; at this traffic, about `minutes` more decide it
    /// (`None`: not within a day).
    Wait {
        minutes: Option<u64>,
        /// Whether the candidate has served too few requests to be judged at all.
        too_few_requests: bool,
    },
    /// The interval lies wholly above the tolerance.
    Reject,
}

impl Recommendation {
    pub fn as_str(self) -> &'static str {
        match self {
            Recommendation::Continue => "continue",
            Recommendation::Wait { .. } => "wait",
            Recommendation::Reject => "reject",
        }
    }
}

/// The verdict of a window: both versions' 5xx, the latency bound, and the
/// recommendation against the tolerance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Verdict {
    pub errors: ErrorComparison,
    /// The new version's p99 is no worse than stable's by more than this
    /// (ms, the median of the minutes' differences); `None` with too few
    /// minutes, or without them.
    pub latency_ms: Option<f64>,
    /// How many minutes both versions served (the latency's sample).
    pub latency_minutes: usize,
    /// The tolerance judged against, and whether the request set it.
    pub tolerance: f64,
    pub tolerance_set: bool,
    pub requests: f64,
    pub min_requests: u64,
    pub recommendation: Recommendation,
    /// With an availability objective: how fast each version spends its
    /// error budget (1 = exactly as fast as the objective allows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burn: Option<BurnRates>,
}

/// The error budget's burn rate of each version: its 5xx rate divided by
/// the rate the objective allows (100 % − the target).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BurnRates {
    pub target: f64,
    pub candidate: f64,
    pub stable: f64,
}

impl BurnRates {
    fn of(errors: &ErrorComparison, target: f64) -> Option<BurnRates> {
        let budget = 100.0 - target;
        (budget > 0.0).then(|| BurnRates {
            target,
            candidate: errors.candidate_rate / budget,
            stable: errors.stable_rate / budget,
        })
    }
}

/// Judges `window` (and, when given, its minutes' latency) against `limits`.
pub fn judge(
    window: &WindowEvidence,
    timeline: Option<&Timeline>,
    limits: &AnalysisLimits,
) -> Verdict {
    let errors = ErrorComparison::of(window);
    let tolerance_set = limits.max_error_rate_increase.is_some();
    let tolerance = limits
        .max_error_rate_increase
        .map_or(ADVICE_TOLERANCE_POINTS, |t| t.points());
    let (latency_ms, latency_minutes) = timeline.map(latency_bound).unwrap_or((None, 0));
    let verdict = |recommendation| Verdict {
        errors,
        latency_ms,
        latency_minutes,
        tolerance,
        tolerance_set,
        requests: window.candidate.requests,
        min_requests: limits.min_requests,
        recommendation,
        burn: limits
            .slo_target
            .and_then(|target| BurnRates::of(&errors, target.points())),
    };
    let minutes = window.until.saturating_sub(window.since).max(60) as f64 / 60.0;
    let per_minute = window.candidate.requests / minutes;
    if window.candidate.requests < limits.min_requests as f64 {
        let missing = limits.min_requests as f64 - window.candidate.requests;
        let wait = (per_minute > 0.0).then(|| (missing / per_minute).ceil() as u64);
        return verdict(Recommendation::Wait {
            minutes: wait.filter(|m| *m <= LONGEST_ESTIMATE_MINUTES),
            too_few_requests: true,
        });
    }
    if errors.low > tolerance {
        return verdict(Recommendation::Reject);
    }
    if errors.high <= tolerance {
        return verdict(Recommendation::Continue);
    }
    verdict(Recommendation::Wait {
        minutes: minutes_to_decide(window, minutes, tolerance),
        too_few_requests: false,
    })
}

/// At the window's traffic and rates so far, how many more minutes until
/// the interval lies wholly on one side of `tolerance` (the side the
/// estimate is on); `None` when not within a day.
fn minutes_to_decide(window: &WindowEvidence, minutes: f64, tolerance: f64) -> Option<u64> {
    let ahead = |extra: u64| {
        let grow = |stats: &crate::TrafficStats| {
            let factor = 1.0 + extra as f64 / minutes;
            crate::TrafficStats {
                requests: stats.requests * factor,
                target_5xx: stats.errors() * factor,
                elb_5xx: 0.0,
                p50_ms: None,
                p99_ms: None,
            }
        };
        ErrorComparison::of(&WindowEvidence {
            candidate: grow(&window.candidate),
            stable: grow(&window.stable),
            ..window.clone()
        })
    };
    let worse = ahead(0).increase > tolerance;
    let decided = |extra: u64| {
        let errors = ahead(extra);
        if worse {
            errors.low > tolerance
        } else {
            errors.high <= tolerance
        }
    };
    if !decided(LONGEST_ESTIMATE_MINUTES) {
        return None;
    }
    let (mut undecided, mut enough) = (0, LONGEST_ESTIMATE_MINUTES);
    while enough - undecided > 1 {
        let middle = (undecided + enough) / 2;
        if decided(middle) {
            enough = middle;
        } else {
            undecided = middle;
        }
    }
    Some(enough)
}

/// The latency bound of `timeline`'s minutes that both versions served:
/// the largest median p99 difference not ruled out, and how many minutes.
fn latency_bound(timeline: &Timeline) -> (Option<f64>, usize) {
    let mut differences: Vec<f64> = timeline
        .candidate
        .iter()
        .filter(|m| m.stats.requests > 0.0)
        .filter_map(|new| {
            let stable = timeline
                .stable
                .iter()
                .find(|s| s.at == new.at && s.stats.requests > 0.0)?;
            Some(new.stats.p99_ms? - stable.stats.p99_ms?)
        })
        .filter(|d| d.is_finite())
        .collect();
    differences.sort_by(f64::total_cmp);
    (median_upper_bound(&differences), differences.len())
}

/// The largest median of `sorted` not ruled out by the sequential sign
/// test; `None` while every value still is plausible.
fn median_upper_bound(sorted: &[f64]) -> Option<f64> {
    let threshold = (1.0 / ALPHA).ln();
    // Above δ `above` times, below it `below` times (ties set aside).
    let ruled_out = |above: usize, below: usize| {
        let (above, below) = (above as f64, below as f64);
        ln_beta(PRIOR + above, PRIOR + below) - ln_beta(PRIOR, PRIOR)
            + (above + below) * std::f64::consts::LN_2
            >= threshold
    };
    let n = sorted.len();
    if n == 0 || !ruled_out(0, n) {
        return None;
    }
    // Down from the top: each value, then the gap below it.
    let mut above = 0;
    let mut index = n;
    while index > 0 {
        let value = sorted[index - 1];
        let ties = sorted[..index]
            .iter()
            .rev()
            .take_while(|v| **v == value)
            .count();
        if !ruled_out(above, n - above - ties) {
            return Some(value);
        }
        above += ties;
        index -= ties;
        if !ruled_out(above, n - above) {
            return Some(value);
        }
    }
    sorted.first().copied()
}

/// "+0.11", "−0.05": percentage points, signed.
fn signed_points(value: f64) -> String {
    let rounded = (value * 100.0).round() / 100.0;
    if rounded < 0.0 {
        format!("−{:.2}", -rounded)
    } else {
        format!("+{rounded:.2}")
    }
}

/// "+12 ms", "−3 ms".
fn signed_ms(value: f64) -> String {
    let rounded = value.round();
    if rounded < 0.0 {
        format!("−{:.0} ms", -rounded)
    } else {
        format!("+{rounded:.0} ms")
    }
}

fn about_minutes(minutes: Option<u64>) -> String {
    match minutes {
        Some(1) => "about a minute".into(),
        Some(m) if m < 120 => format!("about {m} minutes"),
        Some(m) => format!("about {:.0} hours", m as f64 / 60.0),
        None => "more than a day".into(),
    }
}

impl Verdict {
    /// "new 0.42 % 5xx vs stable 0.31 % — +0.11 points, 95 % interval
    /// −0.05 to +0.29 (valid however often you look)".
    pub fn errors_text(&self) -> String {
        if self.requests <= 0.0 {
            return "no requests to the new version yet".into();
        }
        let e = &self.errors;
        format!(
            "new {:.2} % 5xx vs stable {:.2} % — {} points, {CONFIDENCE_PERCENT} % interval {} to {} (valid however often you look)",
            e.candidate_rate,
            e.stable_rate,
            signed_points(e.increase),
            signed_points(e.low),
            signed_points(e.high)
        )
    }

    /// "latency no worse than +12 ms p99", or why there is no bound yet.
    pub fn latency_text(&self) -> Option<String> {
        match self.latency_ms {
            Some(bound) => Some(format!("latency no worse than {} p99", signed_ms(bound))),
            None if self.latency_minutes > 0 => Some(format!(
                "latency not bounded yet ({} minutes of both versions)",
                self.latency_minutes
            )),
            None => None,
        }
    }

    /// "continue: …", "wait for more traffic: …", "reject: …".
    pub fn recommendation_text(&self) -> String {
        let tolerance = format!(
            "{} points{}",
            signed_points(self.tolerance),
            if self.tolerance_set {
                ""
            } else {
                ", the advice's default"
            }
        );
        match self.recommendation {
            Recommendation::Continue => {
                format!("continue: the interval rules out an increase of {tolerance}")
            }
            Recommendation::Reject => {
                format!("reject: the interval lies wholly above the tolerance of {tolerance}")
            }
            Recommendation::Wait {
                minutes,
                too_few_requests: true,
            } => format!(
                "wait for more traffic: the new version has served {:.0} of the {} requests needed ({})",
                self.requests.max(0.0) + 0.0,
                self.min_requests,
                if self.requests > 0.0 {
                    format!("{} at this traffic", about_minutes(minutes))
                } else {
                    "none so far".to_string()
                }
            ),
            Recommendation::Wait { minutes, .. } => {
                let side = if self.errors.increase > self.tolerance {
                    "to reject"
                } else {
                    "to rule out an increase of"
                };
                let target = if self.errors.increase > self.tolerance {
                    format!("against the tolerance of {tolerance}")
                } else {
                    tolerance
                };
                format!(
                    "wait for more traffic: at this traffic, enough {side} {target} in {}",
                    about_minutes(minutes)
                )
            }
        }
    }

    /// "error budget (SLO 99.9 %) burning 4.2× on new vs 3.0× on stable".
    pub fn burn_text(&self) -> Option<String> {
        let burn = self.burn?;
        (self.requests > 0.0).then(|| {
            format!(
                "error budget (SLO {} %) burning {:.1}× on new vs {:.1}× on stable",
                burn.target, burn.candidate, burn.stable
            )
        })
    }

    /// Everything on one line.
    pub fn describe(&self) -> String {
        let mut text = self.errors_text();
        for part in [self.latency_text(), self.burn_text()]
            .into_iter()
            .flatten()
        {
            text.push_str("; ");
            text.push_str(&part);
        }
        text.push_str(" — ");
        text.push_str(&self.recommendation_text());
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MinuteStats, PercentagePoints, TrafficStats};
    use proptest::prelude::*;

    fn stats(requests: f64, errors: f64) -> TrafficStats {
        TrafficStats {
            requests,
            target_5xx: errors,
            elb_5xx: 0.0,
            p50_ms: None,
            p99_ms: None,
        }
    }

    fn window(minutes: u64, new: (f64, f64), stable: (f64, f64)) -> WindowEvidence {
        WindowEvidence {
            since: 0,
            until: minutes * 60,
            candidate: stats(new.0, new.1),
            stable: stats(stable.0, stable.1),
        }
    }

    fn limits(tolerance: Option<f64>, min_requests: u64) -> AnalysisLimits {
        AnalysisLimits {
            max_error_rate_increase: tolerance.and_then(PercentagePoints::new),
            min_requests,
            slo_target: None,
        }
    }

    /// A small deterministic generator for the simulations (xorshift64*).
    struct Random(u64);

    impl Random {
        fn unit(&mut self) -> f64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
        }

        /// Minute `minute` of `w`: `(requests, rate)` for each version.
        fn minute(
            &mut self,
            w: &mut WindowEvidence,
            minute: u64,
            new: (u32, f64),
            stable: (u32, f64),
        ) {
            w.until = minute * 60;
            w.candidate.requests += f64::from(new.0);
            w.candidate.target_5xx += self.errors(new.0, new.1);
            w.stable.requests += f64::from(stable.0);
            w.stable.target_5xx += self.errors(stable.0, stable.1);
        }

        /// 5xx among `requests`, each with probability `rate`: the gaps
        /// between them are geometric, so only the 5xx are drawn.
        fn errors(&mut self, requests: u32, rate: f64) -> f64 {
            let mut at = 0.0;
            let mut count = 0.0;
            loop {
                let u = 1.0 - self.unit();
                at += (u.ln() / (1.0 - rate).ln()).floor() + 1.0;
                if at > f64::from(requests) {
                    return count;
                }
                count += 1.0;
            }
        }
    }

    #[test]
    fn ln_gamma_matches_known_values() {
        for (x, expected) in [
            (1.0, 0.0),
            (2.0, 0.0),
            (10.0, 362_880f64.ln()),
            (0.5, std::f64::consts::PI.sqrt().ln()),
            (100.0, 359.134_205_369_575_4),
        ] {
            assert!(
                (ln_gamma(x) - expected).abs() < 1e-9,
                "ln Γ({x}) = {}",
                ln_gamma(x)
            );
        }
    }

    #[test]
    fn a_rate_interval_against_hand_computed_values() {
        // 30 5xx in 10,000 requests at 97.5 %: where ln M(p) = ln(1/0.025),
        // computed apart from this code (lgamma, bisection to 200 halvings):
        // 0.126865 % and 0.585312 %.
        let (low, high) = rate_interval(30.0, 10_000.0, 0.025);
        assert!((low - 0.001_268_653).abs() < 1e-8, "{low}");
        assert!((high - 0.005_853_124).abs() < 1e-8, "{high}");
        // No 5xx: from 0; nothing served: anything.
        assert_eq!(rate_interval(0.0, 1_000.0, 0.025).0, 0.0);
        assert_eq!(rate_interval(0.0, 0.0, 0.025), (0.0, 1.0));
        // More traffic, a narrower interval.
        let (wide_low, wide_high) = rate_interval(3.0, 1_000.0, 0.025);
        assert!(wide_low < low && wide_high > high);
    }

    #[test]
    fn the_verdict_reads_as_a_person_would_say_it() {
        // Equal rates on plenty of traffic, a tolerance of 0.5 points.
        let equal = window(10, (120_000.0, 360.0), (1_080_000.0, 3_240.0));
        let verdict = judge(&equal, None, &limits(Some(0.5), 100));
        assert_eq!(verdict.recommendation, Recommendation::Continue);
        assert!(
            verdict.describe().starts_with(
                "new 0.30 % 5xx vs stable 0.30 % — +0.00 points, 95 % interval −0.0"
            ) && verdict
                .describe()
                .ends_with("(valid however often you look) — continue: the interval rules out an increase of +0.50 points"),
            "{}",
            verdict.describe()
        );
        // A clearly worse candidate.
        let worse = window(10, (5_000.0, 250.0), (45_000.0, 135.0));
        let verdict = judge(&worse, None, &limits(Some(1.0), 100));
        assert_eq!(verdict.recommendation, Recommendation::Reject);
        assert!(verdict
            .describe()
            .ends_with("reject: the interval lies wholly above the tolerance of +1.00 points"));
        // Too little to tell: wait, with an estimate.
        let early = window(2, (1_200.0, 5.0), (10_800.0, 33.0));
        let verdict = judge(&early, None, &limits(Some(0.3), 100));
        match verdict.recommendation {
            Recommendation::Wait {
                minutes: Some(minutes),
                too_few_requests: false,
            } => assert!((5..600).contains(&minutes), "{minutes}"),
            other => panic!("{other:?}"),
        }
        assert!(
            verdict
                .recommendation_text()
                .starts_with("wait for more traffic: at this traffic, enough to rule out an increase of +0.30 points in about"),
            "{}",
            verdict.recommendation_text()
        );
        // Too few requests: how many, and for how long.
        let quiet = window(4, (40.0, 0.0), (4_000.0, 12.0));
        let verdict = judge(&quiet, None, &limits(None, 100));
        assert_eq!(
            verdict.recommendation,
            Recommendation::Wait {
                minutes: Some(6),
                too_few_requests: true
            }
        );
        assert_eq!(
            verdict.recommendation_text(),
            "wait for more traffic: the new version has served 40 of the 100 requests needed (about 6 minutes at this traffic)"
        );
        // No tolerance set: advice against the default, said so.
        let verdict = judge(&equal, None, &limits(None, 100));
        assert!(verdict
            .recommendation_text()
            .contains("the advice's default"));
        assert_eq!(verdict.burn_text(), None);
        // With an objective of 99.9 %: 0.3 % 5xx spends the budget 3× as fast.
        let slo = AnalysisLimits {
            slo_target: PercentagePoints::new(99.9),
            ..limits(None, 100)
        };
        let verdict = judge(&worse, None, &slo);
        assert_eq!(
            verdict.burn_text().as_deref(),
            Some("error budget (SLO 99.9 %) burning 50.0× on new vs 3.0× on stable")
        );
        assert!(verdict
            .describe()
            .contains("(valid however often you look); error budget"));
    }

    #[test]
    fn latency_is_bounded_once_enough_minutes_agree() {
        let minute = |at: u64, p99: f64| MinuteStats {
            at,
            stats: TrafficStats {
                p99_ms: Some(p99),
                ..stats(1_000.0, 0.0)
            },
        };
        let timeline = |minutes: u64| Timeline {
            candidate: (0..minutes)
                .map(|m| minute(m * 60, 180.0 + (m % 5) as f64))
                .collect(),
            stable: (0..minutes).map(|m| minute(m * 60, 170.0)).collect(),
        };
        let w = window(20, (20_000.0, 60.0), (180_000.0, 540.0));
        let short = judge(&w, Some(&timeline(4)), &limits(None, 100));
        assert_eq!(short.latency_ms, None);
        assert_eq!(
            short.latency_text().as_deref(),
            Some("latency not bounded yet (4 minutes of both versions)")
        );
        let long = judge(&w, Some(&timeline(30)), &limits(None, 100));
        let bound = long.latency_ms.expect("a bound");
        // The differences are 10 to 14 ms: the bound is one of them.
        assert!((10.0..=14.0).contains(&bound), "{bound}");
        assert!(long.describe().contains("; latency no worse than +1"));
        // Minutes only one version served do not count.
        let mut one_sided = timeline(30);
        one_sided.stable.clear();
        assert_eq!(latency_bound(&one_sided), (None, 0));
    }

    #[test]
    fn the_median_bound_is_ruled_out_above_and_plausible_at_itself() {
        let sorted: Vec<f64> = (0..40).map(f64::from).collect();
        let bound = median_upper_bound(&sorted).expect("a bound");
        // The median (19.5) is plausible; the bound lies above it, below the top.
        assert!(bound > 19.5 && bound < 39.0, "{bound}");
        assert_eq!(median_upper_bound(&[1.0, 2.0, 3.0]), None);
        assert_eq!(median_upper_bound(&[]), None);
        // Ties: all the same, the bound is that value.
        assert_eq!(median_upper_bound(&[5.0; 40]), Some(5.0));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(12))]

        /// Under equal rates, the chance that the interval ever excludes
        /// zero, looking after every minute, stays within α.
        #[test]
        fn equal_rates_rarely_ever_look_different(
            rate in 0.001f64..0.05,
            new_per_minute in 50u32..400,
            seed in 1u64..u64::MAX,
        ) {
            let mut random = Random(seed);
            let runs = 60;
            let mut ever = 0;
            for _ in 0..runs {
                let mut w = window(0, (0.0, 0.0), (0.0, 0.0));
                for minute in 1..=30u64 {
                    random.minute(&mut w, minute, (new_per_minute, rate), (new_per_minute * 3, rate));
                    let errors = ErrorComparison::of(&w);
                    if errors.low > 0.0 || errors.high < 0.0 {
                        ever += 1;
                        break;
                    }
                }
            }
            // α = 5 %: at most 3 of 60 (the construction is conservative:
            // almost always none).
            prop_assert!(ever <= 3, "{ever} of {runs} runs excluded zero at some look");
        }

        /// Whatever the counts, the interval holds the estimate and the
        /// difference lies within what rates can differ by.
        #[test]
        fn the_interval_holds_the_estimate(
            new_requests in 1u32..100_000,
            new_share in 0.0f64..1.0,
            stable_requests in 1u32..100_000,
            stable_share in 0.0f64..1.0,
        ) {
            let w = window(
                10,
                (f64::from(new_requests), (f64::from(new_requests) * new_share).floor()),
                (f64::from(stable_requests), (f64::from(stable_requests) * stable_share).floor()),
            );
            let e = ErrorComparison::of(&w);
            prop_assert!(e.low <= e.increase + 1e-9 && e.increase <= e.high + 1e-9, "{e:?}");
            prop_assert!(e.low >= -100.0 && e.high <= 100.0, "{e:?}");
        }
    }

    #[test]
    fn peeking_at_a_fixed_sample_interval_misleads_where_this_one_does_not() {
        // The same equal-rate streams, looked at every minute: a textbook
        // 95 % interval (normal approximation) wrongly shows a difference
        // in many runs; the anytime-valid one in at most α of them.
        let mut random = Random(0xfeed);
        let runs = 200;
        let (mut naive, mut anytime) = (0, 0);
        for _ in 0..runs {
            let mut w = window(0, (0.0, 0.0), (0.0, 0.0));
            let (mut naive_seen, mut anytime_seen) = (false, false);
            for minute in 1..=60u64 {
                random.minute(&mut w, minute, (500, 0.01), (1_500, 0.01));
                let (c, s) = (
                    w.candidate.errors() / w.candidate.requests,
                    w.stable.errors() / w.stable.requests,
                );
                let se = (c * (1.0 - c) / w.candidate.requests + s * (1.0 - s) / w.stable.requests)
                    .sqrt();
                naive_seen |= (c - s).abs() > 1.96 * se;
                let errors = ErrorComparison::of(&w);
                anytime_seen |= errors.low > 0.0 || errors.high < 0.0;
            }
            naive += usize::from(naive_seen);
            anytime += usize::from(anytime_seen);
        }
        assert!(naive >= runs / 10, "peeking: {naive} of {runs}");
        assert!(anytime <= runs / 20, "anytime: {anytime} of {runs}");
    }

    #[test]
    fn a_clearly_worse_candidate_is_rejected_within_minutes() {
        // 3 % against 0.5 %, a tolerance of 1 point, 300 requests a minute
        // on the new version: every run rejects within 30 looks.
        let mut random = Random(0x5eed);
        for _ in 0..40 {
            let mut w = window(0, (0.0, 0.0), (0.0, 0.0));
            let mut rejected = None;
            for minute in 1..=30u64 {
                random.minute(&mut w, minute, (300, 0.03), (2_700, 0.005));
                if judge(&w, None, &limits(Some(1.0), 100)).recommendation == Recommendation::Reject
                {
                    rejected = Some(minute);
                    break;
                }
            }
            assert!(rejected.is_some(), "never rejected: {w:?}");
        }
    }
}
