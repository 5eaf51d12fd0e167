import Foundation

/// The `journal_retention` setting (`WABOX_JOURNAL_RETENTION`): how long applied webhook
/// bodies stay in the journal before the applier prunes them. Dead letters' bodies stay
/// whatever their age.
public enum JournalRetention {
    /// 30 days: longer than Meta retries a webhook (7 days), and time enough to look back.
    public static let `default`: Duration = .seconds(30 * 86_400)

    /// The retention `text` sets: a number of days (`30`), or a number with a unit (`30d`,
    /// `12h`, `90m`, `3600s`); `0` keeps bodies forever (nil). No text: the default.
    public static func parse(_ text: String?) -> Result<Duration?, Problem> {
        guard let text else { return .success(Self.default) }
        guard let seconds = seconds(in: text) else {
            return .failure(Problem(description: """
                journal_retention is "\(text)"; give a number of days (30), or a number with d, h, m or s (12h), \
                or 0 to keep every webhook body forever
                """))
        }
        return .success(seconds == 0 ? nil : .seconds(seconds))
    }

    /// The seconds a duration in the retention's words says: a number of days (`30`), or a
    /// number with a unit (`30d`, `12h`, `90m`, `3600s`); nil when it is not one. Also what
    /// `wabox journal --since` and `wabox replay --since` take.
    public static func seconds(in text: String) -> Int64? {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        let units: [Character: Int64] = ["d": 86_400, "h": 3_600, "m": 60, "s": 1]
        var digits = Substring(trimmed)
        var unit: Int64 = 86_400
        if let last = digits.last, let seconds = units[last] {
            unit = seconds
            digits = digits.dropLast()
        }
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), let count = Int64(digits), count >= 0,
              count <= Int64.max / unit else { return nil }
        return count * unit
    }

    /// The retention `text` sets, the default when it is not a retention (settings refuse
    /// such text when they load).
    public static func value(of text: String?) -> Duration? {
        switch parse(text) {
        case .success(let retention): retention
        case .failure: Self.default
        }
    }

    public struct Problem: Error, CustomStringConvertible {
        public var description: String
    }
}
