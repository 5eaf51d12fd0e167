import Foundation
import InboxCore
import InboxStore

// The agent's workbench on the screen: notifications, reactions, reply buttons, the contact
// panel, the raw view and the help's scrolling. State, actions, effects and the reducer's
// part; the views are in WorkbenchViews.swift, the effects run in InboxApp+Workbench.swift.

/// How a new customer message in another conversation is announced (`notify`).
public enum NotifyMode: String, CaseIterable, Sendable {
    /// The terminal bell (the default): tmux and most terminals mark the window.
    case bell
    /// A desktop notification through the terminal: OSC 777 and OSC 9.
    case osc
    case off
}

/// What the terminal is asked to do besides drawing.
public enum TerminalAlert: Sendable, Equatable {
    case bell
    /// A desktop notification; title and body are already safe for the terminal.
    case desktop(title: String, body: String)

    /// The bytes to write: BEL, or OSC 777 (`notify;title;body`, urxvt, foot, kitty, …)
    /// followed by OSC 9 (`body`, iTerm2, Windows Terminal, …), each ended by BEL.
    public var escapeSequence: String {
        switch self {
        case .bell: "\u{07}"
        case .desktop(let title, let body):
            "\u{1b}]777;notify;\(title);\(body)\u{07}\u{1b}]9;\(title): \(body)\u{07}"
        }
    }

    /// A desktop notification whose texts cannot end the sequence early or inject one:
    /// sanitised (no control characters), the title without `;`, both short.
    public static func notification(title: String, text: String) -> TerminalAlert {
        let clean = { (text: String, cells: Int) in
            TerminalText.truncate(TerminalText.sanitize(text.replacingOccurrences(of: "\n", with: " ")), to: cells)
        }
        return .desktop(title: clean(title, 40).replacingOccurrences(of: ";", with: ","), body: clean(text, 120))
    }
}

/// The reaction picker of `+`: six usual ones, or any emoji typed.
public struct ReactionPicker: Sendable, Equatable {
    public static let choices = ["👍", "❤️", "😂", "😮", "😢", "🙏"]

    public var conversation: ConversationID
    public var target: MessageID
    /// The business's reaction on the message now: choosing it again removes it.
    public var current: String?
    public var selected = 0
    public var typed = ComposeLine()
}

/// Reply buttons being titled on the compose line after `Ctrl-B`.
public struct ButtonDraft: Sendable, Equatable {
    public var body: String
    public var titles: [String] = []
    public var replyTo: StoredMessage?
}

/// The contact panel of `i`: loading, or who the customer is.
public struct ContactPanel: Sendable, Equatable {
    public var conversation: ConversationID
    public var details: ContactDetails?
}

/// The raw view of `J`: the webhook a message came in with, one line per row.
public struct RawView: Sendable, Equatable {
    public var title: String
    /// Pretty-printed and sanitised; empty while loading or when there is nothing to show.
    public var lines: [String]
    /// Why there is nothing to show.
    public var problem: String?
    public var top = 0
    /// The first line naming the message, shown first.
    public var focusLine: Int?

    public init(title: String, lines: [String] = [], problem: String? = nil, top: Int = 0, focusLine: Int? = nil) {
        self.title = title
        self.lines = lines
        self.problem = problem
        self.top = top
        self.focusLine = focusLine
    }
}

public struct WorkbenchState: Sendable, Equatable {
    public var notify: NotifyMode = .bell
    /// Messages up to this row id were in the database when the screen started or have
    /// been looked at since; nil: never announce anything.
    public var arrivalsAfter: Int64?
    /// When the screen started (Unix seconds): webhooks journaled before are never announced.
    public var startedAt: Int64 = 0
    public var lastAlertMilliseconds: Int64?
    public var reactionPicker: ReactionPicker?
    public var buttonDraft: ButtonDraft?
    public var contactPanel: ContactPanel?
    public var rawView: RawView?
    /// The first row of the help overlay shown.
    public var helpTop = 0
    /// The team's canned replies, as the database last had them.
    public var teamReplies: [CannedReply] = []
    /// This agent's own, from `replies.toml`.
    public var personalReplies: [CannedReply] = []
    /// Every label made so far, for Tab in the label prompt.
    public var labels: [String] = []
    /// The open conversation's notes, oldest first.
    public var notes: [ConversationNote] = []
    /// A note or a label being typed.
    public var prompt: WorkbenchPrompt?
    public var replyPicker: ReplyPicker?
    /// The filter's walk through a large list goes on: more matches may come.
    public var listScanning = false

    public init() {}

    /// Whether an overlay of the workbench takes the keys (and hides the cursor).
    public var hasOverlay: Bool { reactionPicker != nil || contactPanel != nil || rawView != nil }
}

public enum WorkbenchAction: Sendable, Equatable {
    /// Customer messages stored since the last look, newest first; `through` is the new
    /// mark, `shown` the conversation on screen when the commit was seen.
    case arrivals([Arrival], through: Int64, shown: ConversationID?, nowMilliseconds: Int64)
    case contactLoaded(ContactDetails)
    case rawLoaded(RawView)
}

public enum WorkbenchEffect: Sendable, Equatable {
    /// Look for customer messages after row `after`; `shown` was on screen when the commit
    /// was seen (before the reload that may follow the newest conversation).
    case checkArrivals(after: Int64, shown: ConversationID?)
    case alert(TerminalAlert)
    /// React as the business; an empty emoji removes the business's reaction.
    case react(ConversationID, to: MessageID, emoji: String)
    case sendButtons(ConversationID, ReplyButtons, replyTo: MessageID?)
    case loadContact(ConversationID)
    /// The webhook behind a message; `wamid` finds its place in the body.
    case loadRaw(messageRowID: Int64, wamid: MessageID?)
}

/// The shortest time between two announcements.
let alertIntervalMilliseconds: Int64 = 2_000

// MARK: - Actions

func reduceWorkbench(_ state: inout AppState, _ action: WorkbenchAction) -> [Effect] {
    switch action {
    case .arrivals(let arrivals, let through, let shown, let now):
        state.workbench.arrivalsAfter = max(state.workbench.arrivalsAfter ?? 0, through)
        guard state.workbench.notify != .off else { return [] }
        let startedAt = state.workbench.startedAt
        guard let newest = arrivals.first(where: { arrival in
            arrival.conversation != shown && (arrival.receivedAt ?? startedAt) >= startedAt && wouldSee(arrival, state)
        }) else { return [] }
        if let last = state.workbench.lastAlertMilliseconds, now - last < alertIntervalMilliseconds { return [] }
        state.workbench.lastAlertMilliseconds = now
        switch state.workbench.notify {
        case .bell: return [.workbench(.alert(.bell))]
        case .osc:
            return [.workbench(.alert(.notification(title: "wabox: " + newest.contact.displayName,
                                               text: Describe.content(newest.content))))]
        case .off: return []
        }
    case .contactLoaded(let details):
        guard state.workbench.contactPanel?.conversation == details.conversation.id else { return [] }
        state.workbench.contactPanel?.details = details
        return []
    case .rawLoaded(var view):
        guard state.workbench.rawView != nil else { return [] }
        view.top = view.focusLine.map { max(0, $0 - 2) } ?? 0
        state.workbench.rawView = view
        return []
    }
}

/// After a commit: look for customer messages to announce.
func arrivalEffects(_ state: AppState) -> [Effect] {
    guard state.workbench.notify != .off, let mark = state.workbench.arrivalsAfter else { return [] }
    return [.workbench(.checkArrivals(after: mark, shown: visibleConversation(state)))]
}

/// The conversation this screen shows now: its messages need no announcement.
private func visibleConversation(_ state: AppState) -> ConversationID? {
    guard let open = state.open else { return nil }
    return !state.isNarrow || state.showingThread ? open.id : nil
}

/// Whether the agent would see the conversation in `mine` or `unassigned`: with claims in
/// use (an agent at the screen), another agent's conversations do not ring here.
private func wouldSee(_ arrival: Arrival, _ state: AppState) -> Bool {
    guard let agent = state.agent else { return true }
    return !arrival.isResolved && (arrival.assignee == nil || arrival.assignee == agent)
}

// MARK: - Keys

/// The context a key map translates in for the focus; nil where keys are typed.
func keyContext(_ state: AppState) -> KeyContext? {
    switch state.focus {
    case .list: .list
    case .thread: .thread
    case .compose: .compose
    case .filter, .search: nil
    }
}

/// Keys for an open workbench overlay (which takes them all); nil when none is open.
func workbenchOverlayKey(_ key: Key, _ state: inout AppState) -> [Effect]? {
    if state.workbench.rawView != nil { return rawViewKey(key, &state) }
    if state.workbench.contactPanel != nil {
        // Any key closes the panel, as it closes the help.
        state.workbench.contactPanel = nil
        return []
    }
    if state.workbench.reactionPicker != nil { return reactionPickerKey(key, &state) }
    return nil
}

/// The help scrolls with ↓ ↑ (j k, PgDn PgUp) when it is taller than the screen; any
/// other key closes it.
func helpKey(_ key: Key, _ state: inout AppState) -> [Effect] {
    let rows = Renderer.helpRows(height: state.height)
    let last = max(0, Renderer.helpEntries.count - rows)
    let step: Int? = switch key {
    case .down, .character("j"): 1
    case .pageDown, .character(" "): rows
    case .up, .character("k"): -1
    case .pageUp: -rows
    default: nil
    }
    guard let step, last > 0 else {
        state.showHelp = false
        state.workbench.helpTop = 0
        return []
    }
    state.workbench.helpTop = min(last, max(0, state.workbench.helpTop + step))
    return []
}

/// The workbench's keys in the list, the thread and the compose line (after the key map);
/// nil for the keys it leaves to the rest of the reducer.
func workbenchKey(_ key: Key, _ state: inout AppState) -> [Effect]? {
    switch (state.focus, key) {
    case (.list, .character("i")):
        guard let index = state.selectedIndex else { return [] }
        return openContactPanel(state.conversations[index].id, &state)
    case (.thread, .character("i")):
        guard let open = state.open else { return [] }
        return openContactPanel(open.id, &state)
    case (.thread, .character("+")):
        return openReactionPicker(&state)
    case (.thread, .character("J")):
        guard let message = pickedMessage(state) else { return [] }
        state.workbench.rawView = RawView(title: "raw webhook · loading…")
        return [.workbench(.loadRaw(messageRowID: message.rowID, wamid: message.wamid))]
    case (.thread, .character("R")):
        // The picked message's own reaction that may not have gone out is sent again.
        guard let message = pickedMessage(state), message.status != .uncertain,
              let reaction = message.reactions.first(where: { $0.isBusiness && $0.status == .uncertain }),
              let localID = reaction.localID else { return nil }
        return [.resend(localID: localID)]
    case (.compose, _) where state.workbench.buttonDraft != nil:
        return buttonDraftKey(key, &state)
    case (.compose, .control("b")):
        return startButtons(&state)
    default:
        return nil
    }
}

private func pickedMessage(_ state: AppState) -> StoredMessage? {
    state.thread.first { $0.rowID == state.pickedMessage }
}

private func openContactPanel(_ id: ConversationID, _ state: inout AppState) -> [Effect] {
    state.workbench.contactPanel = ContactPanel(conversation: id)
    return [.workbench(.loadContact(id))]
}

// MARK: - Reactions

private func openReactionPicker(_ state: inout AppState) -> [Effect] {
    guard let open = state.open, let message = pickedMessage(state) else {
        state.flash = "pick a message with ↑ first, then + reacts to it"
        return []
    }
    guard let wamid = message.wamid, !Describe.isNotice(message.content) else {
        state.flash = message.direction == .outbound
            ? "WhatsApp has not taken this message yet: react once it shows a tick"
            : "only messages can have reactions, not notices"
        return []
    }
    guard open.serviceWindow(now: state.now).isOpen else {
        state.flash = "window closed: a reaction is a message, and only a template reaches the customer now"
        return []
    }
    let current = message.reactions.first { $0.isBusiness && !$0.emoji.isEmpty }?.emoji
    var picker = ReactionPicker(conversation: open.id, target: wamid, current: current)
    picker.selected = current.flatMap { ReactionPicker.choices.firstIndex(of: $0) } ?? 0
    state.workbench.reactionPicker = picker
    return []
}

private func reactionPickerKey(_ key: Key, _ state: inout AppState) -> [Effect] {
    guard var picker = state.workbench.reactionPicker else { return [] }
    let count = ReactionPicker.choices.count
    switch key {
    case .escape:
        state.workbench.reactionPicker = nil
        return []
    case .left, .backTab:
        picker.selected = (picker.selected + count - 1) % count
    case .right, .tab:
        picker.selected = (picker.selected + 1) % count
    case .character(let digit) where picker.typed.isEmpty && ("1"..."6").contains(digit):
        picker.selected = Int(String(digit))! - 1
        return sendReaction(ReactionPicker.choices[picker.selected], picker, &state)
    case .enter:
        let typed = picker.typed.text.trimmingCharacters(in: .whitespaces)
        if typed.isEmpty { return sendReaction(ReactionPicker.choices[picker.selected], picker, &state) }
        guard isSingleEmoji(typed) else {
            state.flash = "\"\(TerminalText.sanitize(typed))\" is not one emoji: WhatsApp reacts with a single emoji"
            return []
        }
        return sendReaction(typed, picker, &state)
    case .backspace:
        picker.typed.backspace()
    case .character(let character):
        picker.typed.insert(character)
    default:
        break
    }
    state.workbench.reactionPicker = picker
    return []
}

private func sendReaction(_ emoji: String, _ picker: ReactionPicker, _ state: inout AppState) -> [Effect] {
    state.workbench.reactionPicker = nil
    let removing = emoji == picker.current
    state.flash = removing ? "removing your \(emoji)" : nil
    return [.workbench(.react(picker.conversation, to: picker.target, emoji: removing ? "" : emoji))]
}

/// One emoji, as WhatsApp takes for a reaction: a single grapheme drawn as an emoji.
func isSingleEmoji(_ text: String) -> Bool {
    guard text.count == 1, let character = text.first else { return false }
    let scalars = character.unicodeScalars
    return scalars.contains { $0.properties.isEmojiPresentation }
        || (scalars.first?.properties.isEmoji == true && scalars.contains { $0.value == 0xFE0F })
}

// MARK: - Reply buttons

private func startButtons(_ state: inout AppState) -> [Effect] {
    guard let open = state.open, state.templateDraft == nil else { return [] }
    let body = state.compose.text.trimmingCharacters(in: .whitespaces)
    if let problem = ReplyButtons.problem(body: body) {
        state.flash = problem
        return []
    }
    guard open.serviceWindow(now: state.now).isOpen else {
        state.flash = "window closed: buttons are free-form, and only a template reaches the customer now (Ctrl-T)"
        return []
    }
    state.workbench.buttonDraft = ButtonDraft(body: body, replyTo: state.replyTo)
    state.compose = ComposeLine()
    return []
}

private func buttonDraftKey(_ key: Key, _ state: inout AppState) -> [Effect]? {
    guard var draft = state.workbench.buttonDraft, let open = state.open else { return nil }
    switch key {
    case .escape:
        // Back to the text, buttons dropped.
        state.workbench.buttonDraft = nil
        state.compose = ComposeLine(draft.body)
        return []
    case .up, .backTab, .control("t"), .control("b"):
        return []
    case .enter:
        let title = state.compose.text.trimmingCharacters(in: .whitespaces)
        if title.isEmpty {
            guard !draft.titles.isEmpty else {
                state.flash = "type the first button's title (up to \(ReplyButtons.maxTitleLength) characters), or Esc to go back to the text"
                return []
            }
        } else {
            if let problem = ReplyButtons.problem(title: title, after: draft.titles) {
                state.flash = problem
                return []
            }
            draft.titles.append(title)
            state.compose = ComposeLine()
            guard draft.titles.count == ReplyButtons.maxButtons else {
                state.workbench.buttonDraft = draft
                return []
            }
        }
        state.workbench.buttonDraft = nil
        state.replyTo = nil
        state.threadScroll = 0
        return [.workbench(.sendButtons(open.id, ReplyButtons(body: draft.body, titles: draft.titles),
                                        replyTo: draft.replyTo?.wamid))]
    default:
        return nil
    }
}

// MARK: - The raw view

private func rawViewKey(_ key: Key, _ state: inout AppState) -> [Effect] {
    guard var view = state.workbench.rawView else { return [] }
    let page = max(1, state.height - 6)
    let last = max(0, view.lines.count - 1)
    switch key {
    case .escape, .character("q"), .character("J"), .enter:
        state.workbench.rawView = nil
        return []
    case .down, .character("j"): view.top += 1
    case .up, .character("k"): view.top -= 1
    case .pageDown, .character(" "), .control("d"): view.top += page
    case .pageUp, .control("u"): view.top -= page
    case .home, .character("g"): view.top = 0
    case .end, .character("G"): view.top = last
    default: return []
    }
    view.top = min(max(0, view.top), last)
    state.workbench.rawView = view
    return []
}
