import Foundation
import InboxCore
import InboxStore
import MediaPreview

/// Which part of the screen takes the keys.
public enum Focus: Sendable, Equatable {
    case list, thread, compose, filter, search
}

/// The compose line: grapheme clusters and a cursor between them.
public struct ComposeLine: Sendable, Equatable {
    public var characters: [Character] = []
    public var cursor = 0

    public var text: String { String(characters) }
    public var isEmpty: Bool { characters.isEmpty }

    public init(_ text: String = "") {
        characters = Array(text)
        cursor = characters.count
    }

    public mutating func insert(_ character: Character) {
        // Scalars typed one by one (a ZWJ emoji arrives in parts) join the previous
        // cluster when Unicode says they belong to it.
        if cursor > 0 {
            let joined = String(characters[cursor - 1]) + String(character)
            if joined.count == 1 {
                characters[cursor - 1] = Character(joined)
                return
            }
        }
        characters.insert(character, at: cursor)
        cursor += 1
    }

    public mutating func backspace() {
        guard cursor > 0 else { return }
        characters.remove(at: cursor - 1)
        cursor -= 1
    }

    public mutating func deleteForward() {
        guard cursor < characters.count else { return }
        characters.remove(at: cursor)
    }

    public mutating func deleteWordBackward() {
        while cursor > 0, characters[cursor - 1] == " " { backspace() }
        while cursor > 0, characters[cursor - 1] != " " { backspace() }
    }

    public mutating func deleteToStart() {
        characters.removeFirst(cursor)
        cursor = 0
    }

    public mutating func moveLeft() { cursor = max(0, cursor - 1) }
    public mutating func moveRight() { cursor = min(characters.count, cursor + 1) }
    public mutating func moveHome() { cursor = 0 }
    public mutating func moveEnd() { cursor = characters.count }
}

/// Whether replies leave the outbox.
public enum SendingState: Sendable, Equatable {
    /// A sender runs.
    case on
    /// No sender: replies wait in the outbox; the reason says what to set.
    case off(String)
    /// The Cloud API refused the token or the account; the reason says what to fix.
    case halted(String)
}

/// What the status bar reports about the listener and the outbox.
public struct ListenerStatus: Sendable, Equatable {
    public var address: String?
    public var isUp: Bool
    public var lastWebhookAt: Int64?
    public var waitingToSend: Int
    public var problem: String?
    public var isDemo: Bool
    public var sending: SendingState
    /// Another process (`wabox serve`) holds the listener: its description, and `address`
    /// is where it listens.
    public var attachedTo: String?
    /// The listener accepts webhooks without checking signatures (`--insecure-skip-signature`).
    public var isInsecure = false
    /// Meta's alerts on the account in force, in plain words (what stops working).
    public var alerts: [String] = []
    /// Webhooks acknowledged (journaled) but not yet applied to the inbox.
    public var applierLag: Int64 = 0
    /// When the oldest of them was received (Unix seconds).
    public var oldestUnappliedAt: Int64?

    public init(address: String? = nil, isUp: Bool = false, lastWebhookAt: Int64? = nil, waitingToSend: Int = 0,
                problem: String? = nil, isDemo: Bool = false, sending: SendingState = .on) {
        self.address = address
        self.isUp = isUp
        self.lastWebhookAt = lastWebhookAt
        self.waitingToSend = waitingToSend
        self.problem = problem
        self.isDemo = isDemo
        self.sending = sending
    }
}

/// An approved message template, as the picker shows it.
public struct TemplateChoice: Sendable, Equatable {
    public var name: String
    public var language: String
    /// The body text with its `{{1}}` placeholders, when known.
    public var body: String?
    public var parameterCount: Int
    /// `MARKETING`, `UTILITY`, `AUTHENTICATION`, when known.
    public var category: String?
    /// `GREEN`, `YELLOW`, `RED`, when known.
    public var quality: String?

    public init(name: String, language: String, body: String?, parameterCount: Int, category: String? = nil,
                quality: String? = nil) {
        self.name = name
        self.language = language
        self.body = body
        self.parameterCount = parameterCount
        self.category = category
        self.quality = quality
    }

    public var isMarketing: Bool { category?.uppercased() == "MARKETING" }

    /// The body with the values filled in so far, placeholders left for the rest.
    public func preview(with values: [String]) -> String {
        guard var text = body else { return "[\(name)] " + values.joined(separator: " · ") }
        for (index, value) in values.enumerated() {
            text = text.replacingOccurrences(of: "{{\(index + 1)}}", with: value)
        }
        return text
    }
}

/// The template picker: loading, a list to choose from, or why there is none.
public struct TemplatePicker: Sendable, Equatable {
    public var templates: [TemplateChoice]?
    public var selected = 0
    public var error: String?
    /// Why some templates are not offered (the customer opted out of marketing).
    public var note: String?

    public init(templates: [TemplateChoice]? = nil, error: String? = nil) {
        self.templates = templates
        self.error = error
    }
}

/// A template being filled in on the compose line, one parameter at a time.
public struct TemplateDraft: Sendable, Equatable {
    public var template: TemplateChoice
    public var values: [String] = []

    public init(template: TemplateChoice) {
        self.template = template
    }
}

/// The compose line's file prompt (Ctrl-O): the path of a file to send, the compose text
/// becoming its caption.
public struct FilePrompt: Sendable, Equatable {
    public var path = ComposeLine()
    /// The names a second Tab listed (folders end in `/`), shown in a line above.
    public var candidates: [String]?
    /// A Tab could not complete any further: the next one lists the candidates.
    var awaitingSecondTab = false
    /// Enter was pressed: the file is being checked and copied into the media store.
    public var sending = false

    public init(path: String = "") {
        self.path = ComposeLine(path)
    }
}

/// What Tab in the file prompt found: the names in the folder of the path typed so far
/// that continue its last part. The runner reads the folder; the reducer completes.
public struct PathCompletion: Sendable, Equatable {
    /// The prompt's text when Tab was pressed (a result for an older text is dropped).
    public var typed: String
    /// Names (not paths), sorted; folders end in `/`.
    public var matches: [String]
    /// Why the folder could not be read, in words.
    public var problem: String?

    public init(typed: String, matches: [String], problem: String? = nil) {
        self.typed = typed
        self.matches = matches
        self.problem = problem
    }
}

/// Where and when (seconds) an agent last said they were typing.
public struct TypingNoted: Sendable, Equatable {
    public var conversation: ConversationID
    public var at: Int64
}

/// Everything the screen shows. Views read it; only `reduce` changes it.
public struct AppState: Sendable, Equatable {
    public var width: Int
    public var height: Int
    public var now: Int64
    /// Seconds east of UTC, for times and day separators.
    public var utcOffset: Int
    public var asciiOnly: Bool

    public var conversations: [ConversationSummary] = []
    public var hasMoreConversations = false
    public var selected: ConversationID?
    public var listTop = 0
    /// The agent moved the selection off the top row. Until they do (and whenever it is on
    /// the top row again) the list stays on the newest conversations and the selection
    /// follows the newest.
    public var selectionMoved = false
    /// Each listed conversation's last activity when it was last in the viewport: those
    /// above the viewport that changed since are counted as new.
    public var seenActivity: [ConversationID: Int64] = [:]

    /// The conversation shown on the right (wide) or full screen (narrow), and its
    /// messages oldest first.
    public var open: ConversationSummary?
    public var thread: [StoredMessage] = []
    public var threadHasOlder = false
    /// Messages quoted by replies, by id.
    public var quoted: [MessageID: StoredMessage] = [:]
    /// Lines scrolled up from the bottom of the thread.
    public var threadScroll = 0
    /// The message picked in the thread (for replies), by row id.
    public var pickedMessage: Int64?
    /// The open thread's pictures of photos and stickers (see `PreviewLayout`).
    public var previews: [PreviewRequest: PreviewState] = [:]
    /// How pictures are drawn: in colour, or as a line of text (`mono`, ASCII-only).
    public var previewColors: PreviewColors = .indexed240

    public var focus: Focus = .list
    /// On narrow terminals the list and the thread are two screens.
    public var showingThread = false
    public var filter = ComposeLine()
    public var unreadOnly = false
    public var compose = ComposeLine()
    public var replyTo: StoredMessage?
    public var showHelp = false
    /// A message shown whole, with its earlier versions and raw form (`d` in the thread).
    public var details: StoredMessage?
    /// Whether messages the customer deleted still show, struck through (`show_deleted`).
    public var showDeleted = false
    public var templatePicker: TemplatePicker?
    public var templateDraft: TemplateDraft?
    /// Ctrl-O in the compose line: the path of a file to send.
    public var filePrompt: FilePrompt?
    public var searchQuery = ComposeLine()
    public var searchHits: [MessageHit] = []
    public var searchSelected = 0

    /// Who works this screen (the account): unread counts, claims and typing notes are theirs.
    public var agent: String?
    /// This session's display name (`--agent`), shown beside `agent`.
    public var displayName: String?
    /// Agents' display names by account, as the database last had them (an account's
    /// latest session's).
    public var displayNames: [String: String] = [:]
    /// Which conversations the list shows: all, mine, unassigned.
    public var scope: ConversationScope = .all
    /// Where and when (seconds) this agent last told the others they are typing.
    public var typingNoted: TypingNoted?
    /// A conversation someone else holds, which `a` pressed again takes over.
    public var pendingTakeover: ConversationID?
    public var listener = ListenerStatus()
    /// The demo's words for some customers (by wa_id), shown while their conversation is
    /// selected: why a reply to them fails, or only a template reaches them.
    public var hints: [String: String] = [:]
    /// Notifications, reactions, reply buttons, the contact panel, the raw view, canned
    /// replies, labels, notes and their prompts.
    public var workbench = WorkbenchState()
    /// Which key does what (`keys.toml`).
    public var keys = KeyMap.standard
    /// A one-line notice (what just happened or went wrong), cleared by the next key.
    public var flash: String?
    public var quit = false

    public init(width: Int, height: Int, now: Int64, utcOffset: Int = 0, asciiOnly: Bool = false) {
        self.width = width
        self.height = height
        self.now = now
        self.utcOffset = utcOffset
        self.asciiOnly = asciiOnly
    }

    /// How an account is shown: `bob`, or `bob (Bobby)` with its display name (unsanitised).
    public func agentLabel(_ account: String) -> String {
        AgentIdentity.label(account: account, displayName: account == agent ? displayName : displayNames[account])
    }

    /// Whether another agent's typing note is on screen (it expires by the second).
    var showsTypingNotes: Bool {
        open?.typing.isEmpty == false || conversations.contains { !$0.typing.isEmpty }
    }

    /// Narrow terminals show the list and the thread as two screens.
    public var isNarrow: Bool { width < 70 }

    /// Rows of the conversation list (each conversation takes two).
    var listRows: Int { max(1, height - 2) }
    var visibleConversations: Int { max(1, listRows / 2) }

    public var selectedIndex: Int? {
        conversations.firstIndex { $0.id == selected }
    }

    /// The hint for the selected (or open) conversation's customer, if there is one.
    var selectedHint: String? {
        guard !hints.isEmpty else { return nil }
        let summary = open ?? selectedIndex.map { conversations[$0] }
        return summary?.contact.waID.flatMap { hints[$0.rawValue] }
    }

    /// Conversations above the viewport that are new or changed since they were last in
    /// it (`↑ 3 new`; `g` goes there).
    public var changedAboveViewport: Int {
        conversations.prefix(listTop).reduce(0) { $0 + (seenActivity[$1.id] == $1.lastActivityAt ? 0 : 1) }
    }

    /// How many conversations the list should hold: what is visible plus a page ahead.
    public var conversationLimit: Int {
        max(listTop + visibleConversations * 2, (selectedIndex ?? 0) + visibleConversations + 1, 50)
    }
}
