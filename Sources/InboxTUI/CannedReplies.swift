import Foundation
import InboxCore
import InboxStore
import TOMLKit

// Canned replies: `/NAME` + Tab in the compose line puts a reply's text there, its
// variables filled in, to edit before Enter sends it; `/` + Tab alone opens a picker that
// narrows as you type. Team-wide replies live in the database (`wabox replies add`),
// personal ones in `$XDG_CONFIG_HOME/wabox/replies.toml`; a personal one wins a name.

extension WorkbenchState {
    /// Personal replies, then the team's whose names no personal one takes, by name.
    public var replies: [CannedReply] {
        let personal = Set(personalReplies.map { $0.name.lowercased() })
        return (personalReplies + teamReplies.filter { !personal.contains($0.name.lowercased()) })
            .sorted { $0.name.lowercased() < $1.name.lowercased() }
    }
}

/// The picker `/` + Tab opens: replies whose name or text holds the query.
public struct ReplyPicker: Sendable, Equatable {
    public var query = ComposeLine()
    public var selected = 0

    public init(query: String = "") {
        self.query = ComposeLine(query)
    }

    func matches(in replies: [CannedReply]) -> [CannedReply] {
        let needle = query.text.lowercased()
        guard !needle.isEmpty else { return replies }
        let byName = replies.filter { $0.name.lowercased().hasPrefix(needle) }
        let byText = replies.filter { !$0.name.lowercased().hasPrefix(needle)
            && ($0.name.lowercased().contains(needle) || $0.text.lowercased().contains(needle)) }
        return byName + byText
    }
}

extension CannedReply {
    /// The text with `{{name}}` (the customer's profile name, or "there"), `{{agent}}` and
    /// `{{number}}` (the business number) filled in.
    public func filled(for conversation: ConversationSummary, agent: String?) -> String {
        let display = conversation.business.displayPhoneNumber ?? conversation.business.phoneNumberID.rawValue
        let number = display.allSatisfy(\.isNumber) ? "+" + display : display
        return text
            .replacingOccurrences(of: "{{name}}", with: conversation.contact.name ?? "there")
            .replacingOccurrences(of: "{{agent}}", with: agent ?? "the team")
            .replacingOccurrences(of: "{{number}}", with: number)
    }

    public struct LoadError: Error, CustomStringConvertible, Equatable {
        public var description: String
    }

    /// `$XDG_CONFIG_HOME/wabox/replies.toml` (or `~/.config/…`).
    public static func personalFile(environment: [String: String]) -> String {
        let base = environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (NSHomeDirectory() as NSString).appendingPathComponent(".config")
        return "\(base)/wabox/replies.toml"
    }

    /// The personal replies in `file` (none when it does not exist). A file that cannot be
    /// read is refused with its line and key, like a theme.
    public static func loadPersonal(from file: String) throws(LoadError) -> [CannedReply] {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            if FileManager.default.fileExists(atPath: file) {
                throw LoadError(description: "replies \(file): cannot be read as UTF-8 text")
            }
            return []
        }
        return try parsePersonal(text, file: file)
    }

    /// Parses `NAME = "TEXT"` lines.
    public static func parsePersonal(_ text: String, file: String) throws(LoadError) -> [CannedReply] {
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw LoadError(description: "replies \(file), line \(error.source.begin.line): \(error.description)")
        } catch {
            throw LoadError(description: "replies \(file): \(error)")
        }
        var replies: [CannedReply] = []
        for (key, value) in table {
            let line = lineNumber(of: key, in: text)
            if let problem = validate(name: key) {
                throw LoadError(description: "replies \(file), line \(line): \(problem)")
            }
            guard let words = value.string else {
                throw LoadError(description: "replies \(file), line \(line), \(key): the value must be a string, like \(key) = \"Hello {{name}}\"")
            }
            guard !words.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                throw LoadError(description: "replies \(file), line \(line), \(key): the text is empty")
            }
            replies.append(CannedReply(name: key, text: words))
        }
        return replies.sorted { $0.name < $1.name }
    }

    private static func lineNumber(of key: String, in text: String) -> Int {
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix(key) || trimmed.hasPrefix("\"\(key)\"") { return index + 1 }
        }
        return 1
    }
}

// MARK: - Keys

/// Tab in the compose line: `/NAME` at its start becomes that reply; `/` alone (or a
/// name several replies start with) opens the picker.
func expandCannedReply(_ state: inout AppState) -> [Effect] {
    let characters = state.compose.characters
    guard state.templateDraft == nil, characters.first == "/", let open = state.open else { return [] }
    let end = characters.firstIndex(where: { $0 == " " || $0 == "\n" }) ?? characters.count
    guard state.compose.cursor <= end else { return [] }
    let name = String(characters[1..<end]).lowercased()
    let replies = state.workbench.replies
    guard !replies.isEmpty else {
        state.flash = "no canned replies yet: wabox replies add NAME TEXT, or NAME = \"TEXT\" in replies.toml"
        return []
    }
    let starting = replies.filter { $0.name.lowercased().hasPrefix(name) }
    if let reply = replies.first(where: { $0.name.lowercased() == name }) ?? (starting.count == 1 ? starting.first : nil),
       !name.isEmpty {
        insert(reply, in: open, &state)
        return []
    }
    guard name.isEmpty || !starting.isEmpty else {
        state.flash = "no canned reply is called /\(name): / and Tab lists them"
        return []
    }
    state.workbench.replyPicker = ReplyPicker(query: name)
    return []
}

/// Replaces the `/word` at the start of the compose line with the reply, filled in.
private func insert(_ reply: CannedReply, in open: ConversationSummary, _ state: inout AppState) {
    let characters = state.compose.characters
    let end = characters.firstIndex(where: { $0 == " " || $0 == "\n" }) ?? characters.count
    // What the customer reads: the display name the agent chose, else the account.
    let expansion = Array(reply.filled(for: open, agent: state.agent.map { state.displayName ?? $0 }))
    state.compose.characters = expansion + characters[end...]
    state.compose.cursor = expansion.count
}

func replyPickerKey(_ key: Key, _ state: inout AppState) -> [Effect] {
    guard var picker = state.workbench.replyPicker else { return [] }
    let matches = picker.matches(in: state.workbench.replies)
    switch key {
    case .escape:
        state.workbench.replyPicker = nil
        return []
    case .down:
        picker.selected = min(picker.selected + 1, max(0, matches.count - 1))
    case .up:
        picker.selected = max(0, picker.selected - 1)
    case .enter, .tab:
        state.workbench.replyPicker = nil
        guard matches.indices.contains(picker.selected), let open = state.open else { return [] }
        insert(matches[picker.selected], in: open, &state)
        return []
    case .backspace where picker.query.isEmpty:
        state.workbench.replyPicker = nil
        return []
    default:
        guard edit(&picker.query, with: key) else { return [] }
        picker.selected = 0
    }
    state.workbench.replyPicker = picker
    return []
}

// MARK: - Drawing

extension Renderer {
    mutating func replyPickerOverlay(_ picker: ReplyPicker) {
        let matches = picker.matches(in: state.workbench.replies)
        let boxWidth = min(state.width - 2, 70)
        let boxHeight = min(state.height - 2, max(1, matches.count) + 5)
        let x0 = (state.width - boxWidth) / 2, y0 = (state.height - boxHeight) / 2
        buffer.fill(x: x0, y: y0, width: boxWidth, height: boxHeight, style: theme[.help])
        buffer.put(" Canned replies — type to narrow, Enter puts it in, Esc closes ", x: x0 + 2, y: y0,
                   style: theme[.help].merging(attributes: .bold), maxWidth: boxWidth - 4)
        let used = buffer.put("/", x: x0 + 2, y: y0 + 1, style: theme[.help])
        let (query, cursorOffset) = visibleSlice(picker.query, width: boxWidth - 6)
        buffer.put(TerminalText.sanitize(query), x: x0 + 2 + used, y: y0 + 1, style: theme[.help])
        cursor = (x0 + 2 + used + cursorOffset, y0 + 1)
        guard !matches.isEmpty else {
            buffer.put("no reply holds \"\(TerminalText.sanitize(picker.query.text))\"", x: x0 + 2, y: y0 + 3,
                       style: theme[.notice].merging(background: theme[.help].background), maxWidth: boxWidth - 4)
            return
        }
        let visible = max(1, boxHeight - 4)
        let top = max(0, min(picker.selected - visible + 1, matches.count - visible))
        let personal = Set(state.workbench.personalReplies.map { $0.name.lowercased() })
        for (offset, reply) in matches[top..<min(matches.count, top + visible)].enumerated() {
            let index = top + offset
            let style = index == picker.selected ? theme[.selection] : theme[.help]
            let row = y0 + 3 + offset
            buffer.fill(x: x0 + 1, y: row, width: boxWidth - 2, height: 1, style: style)
            let label = "/" + reply.name + (personal.contains(reply.name.lowercased()) ? " (yours)" : "")
            let used = buffer.put(TerminalText.truncate(TerminalText.sanitize(label), to: boxWidth / 3), x: x0 + 2, y: row,
                                  style: style.merging(attributes: .bold))
            let text = reply.text.replacingOccurrences(of: "\n", with: " ")
            buffer.put(TerminalText.truncate(TerminalText.sanitize(text), to: max(0, boxWidth - used - 6)),
                       x: x0 + 4 + used, y: row, style: style)
        }
    }
}
