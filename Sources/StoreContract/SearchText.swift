import Foundation

// How wabox reads text for search, the same on every store: folded (case, accents, width),
// split into words at anything but letters and digits. SQLite's full-text index tokenizes
// the same way (unicode61, diacritics removed); PostgreSQL's is built from these words
// (PostgresStore's search indexer), not from its own parser, whose idea of a letter
// depends on the database's locale. So both stores find the same messages.

public enum SearchText {
    /// Case- and accent-insensitive form used to match: `Amélie` → `amelie`.
    public static func fold(_ text: String) -> String {
        text.folding(options: [.caseInsensitive, .diacriticInsensitive, .widthInsensitive], locale: nil)
    }

    /// Words as the search sees them: folded, split at anything but letters and digits.
    public static func tokens(_ text: String) -> [Substring] {
        Substring(fold(text)).split { !($0.isLetter || $0.isNumber) }
    }

    /// nil unless every query token starts one of the words of `text` (as a prefix query
    /// matches), else about ten words around the first match.
    public static func snippet(_ text: String, tokens: [Substring]) -> String? {
        let words = Self.tokens(text)
        guard !tokens.isEmpty, tokens.allSatisfy({ token in words.contains { $0.hasPrefix(token) } }) else { return nil }
        let original = text.split(whereSeparator: { $0.isWhitespace })
        let first = original.firstIndex { word in Self.tokens(String(word)).contains { $0.hasPrefix(tokens[0]) } } ?? 0
        let from = max(0, first - 3), to = min(original.count, from + 10)
        return (from > 0 ? "…" : "") + original[from..<to].joined(separator: " ") + (to < original.count ? "…" : "")
    }

    /// A contact's search key from its columns: what the list filter looks in.
    public static func contactKey(name: String?, username: String?, waID: String?, userID: String?) -> String {
        fold([name ?? "", username ?? "", waID ?? "", userID ?? ""].joined(separator: " "))
    }

    /// What the list filter looks for in contacts' keys: the typed text folded, and digits
    /// typed with spaces, a plus or dashes ("+33 6 12") as the digits alone.
    public static func contactNeedle(_ typed: String) -> String {
        let needle = fold(typed.trimmingCharacters(in: .whitespaces))
        if !needle.isEmpty, needle.allSatisfy({ $0.isNumber || $0 == " " || $0 == "+" || $0 == "-" }) {
            return needle.filter(\.isNumber)
        }
        return needle
    }

    /// `text` for a LIKE pattern with `\` as the escape character.
    public static func escapeLike(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%")
            .replacingOccurrences(of: "_", with: "\\_")
    }
}
