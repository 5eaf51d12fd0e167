/// What the list filter (`/`) asks for: free text matched against the contact, and `~`
/// terms that must all hold.
///
/// ```
/// amelie ~u ~w !~l vip ~a me
/// ```
///
/// `~u` unread, `~w` window open, `~W` window closed, `~F` has a failed or uncertain reply,
/// `~a NAME` claimed by NAME (`~a me`: by this screen's agent), `~n` claimed by nobody,
/// `~l LABEL` has the label; `!` before a term negates it. Words that are not terms are the
/// free text, joined by single spaces.
public struct ConversationFilter: Sendable, Hashable {
    public enum Condition: Sendable, Hashable {
        case unread
        case windowOpen
        case windowClosed
        case failedReply
        /// Claimed by this agent; `me` stands for the viewer.
        case claimedBy(String)
        case unclaimed
        case label(String)
    }

    public struct Term: Sendable, Hashable {
        public var condition: Condition
        public var negated: Bool

        public init(_ condition: Condition, negated: Bool = false) {
            self.condition = condition
            self.negated = negated
        }
    }

    /// Matched against the contact's name, username, number and user id.
    public var text: String
    public var terms: [Term]

    public init(text: String = "", terms: [Term] = []) {
        self.text = text
        self.terms = terms
    }

    public var isEmpty: Bool { text.isEmpty && terms.isEmpty }

    /// A filter term that cannot be read, with what is wrong and how to write it.
    public struct ParseError: Error, Sendable, Hashable, CustomStringConvertible {
        public var description: String
        public init(_ description: String) { self.description = description }
    }

    static let termList = "~u unread, ~w window open, ~W window closed, ~F failed reply, ~a NAME, ~n nobody's, ~l LABEL"

    /// Reads a filter line; a broken term is an error that says what is wrong.
    public static func parse(_ input: String) throws(ParseError) -> ConversationFilter {
        var words: [String] = []
        var terms: [Term] = []
        var tokens = input.split(whereSeparator: { $0.isWhitespace }).map(String.init)[...]
        while let token = tokens.popFirst() {
            var word = Substring(token)
            let negated = word.hasPrefix("!")
            if negated {
                word = word.dropFirst()
                guard word.hasPrefix("~") else {
                    throw ParseError(word.isEmpty
                        ? "! needs a ~ term right after it, like !~u or !~l vip"
                        : "!\(word): ! negates a ~ term (like !~u); it cannot negate free text")
                }
            }
            guard word.hasPrefix("~") else {
                words.append(token)
                continue
            }
            let letter = word.dropFirst()
            let shown = (negated ? "!" : "") + word
            func argument(_ what: String, example: String) throws(ParseError) -> String {
                guard let next = tokens.popFirst(), !next.hasPrefix("~"), !next.hasPrefix("!") else {
                    throw ParseError("\(shown) needs \(what) after it, like \(example)")
                }
                return next
            }
            let condition: Condition
            switch letter {
            case "u": condition = .unread
            case "w": condition = .windowOpen
            case "W": condition = .windowClosed
            case "F": condition = .failedReply
            case "n": condition = .unclaimed
            case "a": condition = .claimedBy(try argument("an agent's name", example: "~a me or ~a alice"))
            case "l": condition = .label(try argument("a label", example: "~l vip"))
            case "":
                throw ParseError("~ needs a letter: \(termList)")
            default:
                throw ParseError("\(shown) is not a filter term; use \(termList)")
            }
            terms.append(Term(condition, negated: negated))
        }
        return ConversationFilter(text: words.joined(separator: " "), terms: terms)
    }

    /// The terms in words, for the filter line: `unread · window open · not labelled vip`.
    public var summary: String {
        terms.map { term in
            let words = switch term.condition {
            case .unread: term.negated ? "read" : "unread"
            case .windowOpen: term.negated ? "window not open" : "window open"
            case .windowClosed: term.negated ? "window not closed" : "window closed"
            case .failedReply: term.negated ? "no failed reply" : "failed reply"
            case .claimedBy(let name): (term.negated ? "not claimed by " : "claimed by ") + name
            case .unclaimed: term.negated ? "claimed" : "nobody's"
            case .label(let name): (term.negated ? "not labelled " : "labelled ") + name
            }
            return words
        }.joined(separator: " · ")
    }
}
