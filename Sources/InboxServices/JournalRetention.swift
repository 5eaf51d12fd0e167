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
        return parse(text, setting: "journal_retention", forever: "keep every webhook body forever")
    }

    /// A retention setting's `text`: days, or a number with d, h, m or s; `0` is forever
    /// (nil). A problem names `setting` and what `0` would do (`forever`).
    static func parse(_ text: String, setting: String, forever: String) -> Result<Duration?, Problem> {
        guard let seconds = seconds(in: text) else {
            return .failure(Problem(description: """
                \(setting) is "\(text)"; give a number of days (30), or a number with d, h, m or s (12h), \
                or 0 to \(forever)
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

/// The `audit_retention` setting (`WABOX_AUDIT_RETENTION`): how long the audit trail keeps
/// its entries before the process holding the listener prunes them. Unset or `0`: forever.
public enum AuditRetention {
    public static func parse(_ text: String?) -> Result<Duration?, JournalRetention.Problem> {
        guard let text else { return .success(nil) }
        return JournalRetention.parse(text, setting: "audit_retention", forever: "keep the whole trail forever (the default)")
    }

    /// The retention `text` sets; forever when it is not one (settings refuse such text).
    public static func value(of text: String?) -> Duration? {
        (try? parse(text).get()) ?? nil
    }
}
