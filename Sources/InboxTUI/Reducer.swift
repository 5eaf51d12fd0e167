import InboxCore
import InboxStore
import MediaPreview

/// Something that happened: a key, a resize, a result of an effect.
public enum Action: Sendable, Equatable {
    case key(Key)
    case resized(width: Int, height: Int)
    case tick(now: Int64)
    /// Something was committed: reload everything the screen shows.
    case databaseChanged
    /// Something was committed, and the change feed says what: reload only that.
    case changesArrived(ChangeBatch)
    /// The rows of `changed` the list's filter matches now (`Effect.patchConversations`).
    case conversationsPatched(ConversationPatch, rows: [ConversationSummary])
    case conversationsLoaded([ConversationSummary], hasMore: Bool)
    case threadLoaded(ConversationID, [StoredMessage], hasOlder: Bool, quoted: [MessageID: StoredMessage])
    case listenerChanged(ListenerStatus)
    case searchLoaded(query: String, [MessageHit])
    case queued(StoredMessage)
    case templatesLoaded([TemplateChoice])
    case templatesFailed(String)
    /// Another agent holds the conversation the agent tried to claim.
    case claimRefused(ConversationID, holder: String)
    /// The team's canned replies and every label, as the database has them.
    case workbenchLoaded(replies: [CannedReply], labels: [String], displayNames: [String: String] = [:])
    case notesLoaded(ConversationID, [ConversationNote])
    /// The list is still being walked for the filter (more matches may come).
    case listScanning(Bool)
    case failed(String)
    case notice(String)
    /// What Tab in the file prompt found in the folder.
    case pathCompleted(PathCompletion)
    /// The file picked with Ctrl-O is in the outbox.
    case fileQueued(StoredMessage)
    /// The file picked with Ctrl-O cannot be sent: why, with the limit in words.
    case fileRefused(String)
    /// A picture asked for by `Effect.makePreview` is made, or could not be.
    case previewMade(PreviewRequest, Result<ImagePreview, PreviewFailure>)
    /// Notifications, reactions, reply buttons, the contact panel and the raw view.
    case workbench(WorkbenchAction)
}

/// Work the reducer asks for; the app performs it and sends the result back as an action.
public enum Effect: Sendable, Equatable {
    case loadConversations(filter: String, unreadOnly: Bool, scope: ConversationScope, limit: Int)
    case loadThread(ConversationID, limit: Int)
    /// Read the list's rows of just these conversations (those the filter matches).
    case patchConversations(ConversationPatch)
    case markRead(ConversationID)
    case send(ConversationID, text: String, replyTo: MessageID?)
    case sendTemplate(ConversationID, TemplateChoice, values: [String])
    case loadTemplates
    case resend(localID: String)
    case search(String)
    case claim(ConversationID, takeOver: Bool)
    case release(ConversationID)
    case resolve(ConversationID)
    case reopen(ConversationID)
    /// Tell the other agents this one is typing here (for a few seconds).
    case typing(ConversationID)
    case stopTyping(ConversationID)
    /// Open a downloaded file with `open_command` (or say where it is without one).
    case openFile(path: String)
    /// Keep a copy of a downloaded file in `download_dir` as `name` (already safe), or
    /// `name (2)`… when taken.
    case saveFile(path: String, name: String)
    /// List the folder of a path typed in the file prompt (Tab).
    case completePath(String)
    /// Check the file at `path` (as typed: `~` and relative paths are the runner's to
    /// resolve), copy it into the media store and queue it with `caption` under it.
    case sendFile(ConversationID, path: String, caption: String?, replyTo: MessageID?)
    /// Make the inline picture of a downloaded photo or sticker (off the main thread).
    case makePreview(PreviewRequest)
    case workbench(WorkbenchEffect)
    /// Canned replies and labels.
    case loadWorkbench
    /// A private note: stored, shown to every agent, never sent.
    case addNote(ConversationID, text: String)
    /// Puts a label on the conversation, or takes it off.
    case toggleLabel(ConversationID, label: String)
}

/// The whole behaviour of the screen: no I/O, no clock, no terminal.
public func reduce(_ state: inout AppState, _ action: Action) -> [Effect] {
    switch action {
    case .key(let key):
        if key != .resize { state.flash = nil }
        return handle(key, &state)
    case .resized(let width, let height):
        state.width = width
        state.height = height
        clampListTop(&state)
        return [loadConversations(state)] + wantPreviews(&state)
    case .tick(let now):
        state.now = now
        return []
    case .databaseChanged:
        // Arrivals first: judged against what is on screen before the reload.
        var effects = arrivalEffects(state) + [loadConversations(state), .loadWorkbench]
        if let open = state.open { effects.append(.loadThread(open.id, limit: threadLimit(state))) }
        return effects
    case .changesArrived(let batch):
        return changesArrived(batch, &state)
    case .conversationsPatched(let patch, let rows):
        guard patch.filter == state.filter.text, patch.unreadOnly == state.unreadOnly, patch.scope == state.scope else {
            return []
        }
        // Rows that leave a list with more to come short: only a full reload can fill it.
        guard let patched = patch.apply(rows, to: state.conversations, hasMore: state.hasMoreConversations) else {
            return [loadConversations(state)]
        }
        return reduce(&state, .conversationsLoaded(patched.list, hasMore: patched.hasMore))
    case .conversationsLoaded(let conversations, let hasMore):
        let follows = followsNewest(state)
        state.conversations = conversations
        state.hasMoreConversations = hasMore
        let listed = Set(conversations.map(\.id))
        state.seenActivity = state.seenActivity.filter { listed.contains($0.key) }
        var effects: [Effect] = []
        if state.selectedIndex == nil {
            state.selected = conversations.first?.id
            state.listTop = 0
        } else if follows, let newest = conversations.first, newest.id != state.selected {
            state.selected = newest.id
            state.selectionMoved = false
            state.listTop = 0
            if !state.isNarrow, state.open != nil { effects += show(newest, &state) }
        }
        clampListTop(&state)
        if let open = state.open, let fresh = conversations.first(where: { $0.id == open.id }) {
            state.open = fresh
            if isReading(state), fresh.unreadCount > 0 { effects.append(.markRead(fresh.id)) }
        } else if !state.isNarrow, let selected = state.selectedIndex.map({ conversations[$0] }), state.open == nil {
            effects += show(selected, &state)
        }
        return effects
    case .threadLoaded(let id, let messages, let hasOlder, let quoted):
        guard id == state.open?.id else { return [] }
        state.thread = messages
        state.threadHasOlder = hasOlder
        state.quoted = quoted
        return wantPreviews(&state)
    case .listenerChanged(let status):
        state.listener = status
        return []
    case .searchLoaded(let query, let hits):
        guard query == state.searchQuery.text else { return [] }
        state.searchHits = hits
        state.searchSelected = min(state.searchSelected, max(0, hits.count - 1))
        return []
    case .queued:
        return []
    case .templatesLoaded(var templates):
        guard state.templatePicker != nil else { return [] }
        var note: String?
        if let contact = state.open?.contact, contact.optedOutOfMarketing, templates.contains(where: \.isMarketing) {
            // The customer said stop: marketing templates would be refused (and are unwanted).
            let hidden = templates.filter(\.isMarketing).count
            templates.removeAll(where: \.isMarketing)
            let when = contact.marketingOptOutAt.map { " on " + Describe.day($0, offset: state.utcOffset) } ?? ""
            note = "\(hidden) marketing template\(hidden == 1 ? "" : "s") hidden: \(contact.displayName) asked\(when) "
                + "to stop marketing messages (until they resume them)"
        }
        var picker = TemplatePicker(
            templates: templates,
            error: templates.isEmpty
                ? (note ?? "no approved templates on this account: create one in WhatsApp Manager") : nil)
        picker.note = templates.isEmpty ? nil : note
        state.templatePicker = picker
        return []
    case .templatesFailed(let reason):
        guard state.templatePicker != nil else { return [] }
        state.templatePicker = TemplatePicker(error: reason)
        return []
    case .claimRefused(let id, let holder):
        state.flash = "\(state.agentLabel(holder)) has this conversation: press a again to take it over"
        state.pendingTakeover = id
        return []
    case .workbenchLoaded(let replies, let labels, let displayNames):
        state.workbench.teamReplies = replies
        state.workbench.labels = labels
        state.displayNames = displayNames
        return []
    case .notesLoaded(let id, let notes):
        guard id == state.open?.id else { return [] }
        state.workbench.notes = notes
        return []
    case .listScanning(let scanning):
        state.workbench.listScanning = scanning
        return []
    case .failed(let message), .notice(let message):
        state.flash = message
        return []
    case .pathCompleted(let completion):
        completePath(completion, &state)
        return []
    case .fileQueued:
        state.filePrompt = nil
        state.compose = ComposeLine()
        state.replyTo = nil
        state.threadScroll = 0
        return []
    case .fileRefused(let reason):
        state.filePrompt?.sending = false
        state.flash = "not sent: " + reason
        return []
    case .previewMade(let request, let result):
        previewMade(request, result, &state)
        return []
    case .workbench(let action):
        return reduceWorkbench(&state, action)
    }
}

// MARK: - Keys

private func handle(_ key: Key, _ state: inout AppState) -> [Effect] {
    if key == .control("c") {
        state.quit = true
        return []
    }
    if let effects = workbenchOverlayKey(key, &state) { return effects }
    if state.showHelp { return helpKey(key, &state) }
    if state.details != nil {
        state.details = nil
        return []
    }
    if state.templatePicker != nil { return pickerKey(key, &state) }
    if state.workbench.replyPicker != nil { return replyPickerKey(key, &state) }
    if state.workbench.prompt != nil { return promptKey(key, &state) }
    // keys.toml: a bound key acts as its action's default key; a default key moved away does nothing.
    var key = key
    if let context = keyContext(state) {
        guard let translated = state.keys.translate(key, in: context) else { return [] }
        key = translated
    }
    // A take-over waits for `a` pressed right after the warning, nothing else.
    let takeover = state.pendingTakeover
    state.pendingTakeover = nil
    if key == .character("a"), state.focus == .list || state.focus == .thread {
        return claimKey(takeover: takeover, &state)
    }
    if key == .character("x"), state.focus == .list || state.focus == .thread {
        return resolveKey(&state)
    }
    if key == .character("n") || key == .character("L"), state.focus == .list || state.focus == .thread {
        return openPrompt(key == .character("n") ? .note : .label, for: targetConversation(state), &state)
    }
    if let effects = workbenchKey(key, &state) { return effects + typingEffects(&state) }
    let effects = switch state.focus {
    case .list: listKey(key, &state)
    case .filter: filterKey(key, &state)
    case .compose: composeKey(key, &state)
    case .thread: threadKey(key, &state)
    case .search: searchKey(key, &state)
    }
    // Typing starts a note; sending, leaving the compose line or opening another
    // conversation ends it.
    return effects + typingEffects(&state)
}

private func listKey(_ key: Key, _ state: inout AppState) -> [Effect] {
    switch key {
    case .character("j"), .down: return moveSelection(by: 1, &state)
    case .character("k"), .up: return moveSelection(by: -1, &state)
    case .pageDown, .control("d"): return moveSelection(by: state.visibleConversations, &state)
    case .pageUp, .control("u"): return moveSelection(by: -state.visibleConversations, &state)
    case .character("g"), .home: return moveSelection(to: 0, &state)
    case .character("G"), .end: return moveSelection(to: state.conversations.count - 1, &state)
    case .enter, .character("l"), .right, .tab:
        return openSelected(&state)
    case .character("/"):
        state.focus = .filter
        return []
    case .character("s"):
        state.focus = .search
        state.searchHits = []
        state.searchQuery = ComposeLine()
        return []
    case .character("u"):
        state.unreadOnly.toggle()
        state.selected = nil
        return [loadConversations(state)]
    case .character("v"):
        let scopes = ConversationScope.allCases
        state.scope = scopes[(scopes.firstIndex(of: state.scope)! + 1) % scopes.count]
        state.selected = nil
        state.flash = switch state.scope {
        case .all: "showing all conversations"
        case .mine: "showing open conversations claimed by you"
        case .unassigned: "showing open conversations nobody has claimed"
        }
        return [loadConversations(state)]
    case .character("?"):
        state.showHelp = true
        return []
    case .character("q"):
        state.quit = true
        return []
    case .escape:
        guard !state.filter.isEmpty || state.unreadOnly else { return [] }
        state.filter = ComposeLine()
        state.unreadOnly = false
        return [loadConversations(state)]
    default:
        return []
    }
}

private func filterKey(_ key: Key, _ state: inout AppState) -> [Effect] {
    switch key {
    case .enter:
        state.focus = .list
        return []
    case .escape:
        state.focus = .list
        state.filter = ComposeLine()
    case .down: return moveSelection(by: 1, &state)
    case .up: return moveSelection(by: -1, &state)
    default:
        guard edit(&state.filter, with: key) else { return [] }
    }
    // A term that cannot be read says so on the list; the query waits for a good one.
    guard state.filterProblem == nil else { return [] }
    state.selected = nil
    state.listTop = 0
    return [loadConversations(state)]
}

private func composeKey(_ key: Key, _ state: inout AppState) -> [Effect] {
    if state.filePrompt != nil { return filePromptKey(key, &state) }
    switch key {
    case .enter:
        let text = state.compose.text.trimmingCharacters(in: .whitespaces)
        guard let open = state.open else { return [] }
        if var draft = state.templateDraft {
            guard !text.isEmpty else {
                state.flash = "type the value for {{\(draft.values.count + 1)}} of template \(draft.template.name)"
                return []
            }
            draft.values.append(text)
            state.compose = ComposeLine()
            guard draft.values.count == draft.template.parameterCount else {
                state.templateDraft = draft
                return []
            }
            state.templateDraft = nil
            state.threadScroll = 0
            return [.sendTemplate(open.id, draft.template, values: draft.values)]
        }
        guard !text.isEmpty else { return [] }
        if !open.serviceWindow(now: state.now).isOpen {
            return openTemplatePicker(&state)
        }
        let replyTo = state.replyTo?.wamid
        state.compose = ComposeLine()
        state.replyTo = nil
        state.threadScroll = 0
        return [.send(open.id, text: text, replyTo: replyTo)]
    case .control("t"):
        return openTemplatePicker(&state)
    case .control("o"):
        guard let open = state.open else { return [] }
        if state.templateDraft != nil {
            state.flash = "a template takes no file: finish it or Esc, then Ctrl-O"
        } else if !open.serviceWindow(now: state.now).isOpen {
            state.flash = "window closed: only a template reaches this customer now (Ctrl-T)"
        } else {
            state.filePrompt = FilePrompt()
        }
        return []
    case .tab:
        return expandCannedReply(&state)
    case .escape:
        if state.templateDraft != nil {
            state.templateDraft = nil
            state.compose = ComposeLine()
        } else if state.replyTo != nil {
            state.replyTo = nil
        } else {
            state.focus = .list
            if state.isNarrow { state.showingThread = false }
        }
        return []
    case .up, .backTab:
        state.focus = .thread
        state.pickedMessage = state.pickedMessage ?? state.thread.last?.rowID
        return []
    case .pageUp:
        state.threadScroll += max(1, state.height / 2)
        return []
    case .pageDown:
        state.threadScroll = max(0, state.threadScroll - max(1, state.height / 2))
        return []
    default:
        _ = edit(&state.compose, with: key)
        return []
    }
}

// MARK: - File prompt

/// Keys while the compose line asks for a file (Ctrl-O): the path is edited, Tab
/// completes it, Enter sends the file with the compose text as its caption, Esc cancels.
private func filePromptKey(_ key: Key, _ state: inout AppState) -> [Effect] {
    guard var prompt = state.filePrompt else { return [] }
    switch key {
    case .escape:
        state.filePrompt = nil
        return []
    case .tab:
        return prompt.sending ? [] : [.completePath(prompt.path.text)]
    case .enter:
        guard !prompt.sending, let open = state.open else { return [] }
        let path = prompt.path.text
        if path.trimmingCharacters(in: .whitespaces).isEmpty {
            state.flash = "type the path of the file to send (Tab completes it), or Esc"
            return []
        }
        if !open.serviceWindow(now: state.now).isOpen {
            state.flash = "window closed: only a template reaches this customer now (Ctrl-T)"
            return []
        }
        let caption = state.compose.text.trimmingCharacters(in: .whitespacesAndNewlines)
        prompt.sending = true
        prompt.candidates = nil
        state.filePrompt = prompt
        return [.sendFile(open.id, path: path, caption: caption.isEmpty ? nil : caption, replyTo: state.replyTo?.wamid)]
    default:
        guard !prompt.sending, edit(&prompt.path, with: key) else { return [] }
        prompt.candidates = nil
        prompt.awaitingSecondTab = false
        state.filePrompt = prompt
        return []
    }
}

/// Completes the prompt's path as far as every name found agrees; when that adds nothing,
/// the second Tab lists the names.
private func completePath(_ completion: PathCompletion, _ state: inout AppState) {
    guard var prompt = state.filePrompt, !prompt.sending, prompt.path.text == completion.typed else { return }
    defer { state.filePrompt = prompt }
    if let problem = completion.problem {
        state.flash = problem
        return
    }
    let typed = completion.typed
    let folder = typed.lastIndex(of: "/").map { String(typed[...$0]) } ?? ""
    let partial = String(typed.unicodeScalars.dropFirst(folder.unicodeScalars.count))
    guard let first = completion.matches.first else {
        state.flash = partial.isEmpty ? "nothing to send in \(TerminalText.sanitize(folder.isEmpty ? "this folder" : folder))"
            : "no file or folder here starts with \(TerminalText.sanitize(partial))"
        prompt.awaitingSecondTab = false
        return
    }
    // Compared by scalars, as the file system compares names (no Unicode equivalence).
    var common = Array(first.unicodeScalars)
    for match in completion.matches.dropFirst() {
        common = Array(zip(common, match.unicodeScalars).prefix { $0 == $1 }.map(\.0))
    }
    if common.count > partial.unicodeScalars.count {
        var scalars = String.UnicodeScalarView()
        scalars.append(contentsOf: common)
        prompt.path = ComposeLine(folder + String(scalars))
        prompt.candidates = nil
        prompt.awaitingSecondTab = false
    } else if completion.matches.count > 1 {
        if prompt.awaitingSecondTab {
            prompt.candidates = completion.matches
        } else {
            prompt.awaitingSecondTab = true
            state.flash = "\(completion.matches.count) names start with \(partial.isEmpty ? "nothing typed yet" : TerminalText.sanitize(partial)): Tab again lists them"
        }
    }
}

/// Keeps the others told whether this agent is typing in the open conversation: at most
/// one note every few seconds while the line holds text, and one when it empties.
private func typingEffects(_ state: inout AppState) -> [Effect] {
    guard state.agent != nil else { return [] }
    var effects: [Effect] = []
    let typingHere = state.focus == .compose && !state.compose.isEmpty ? state.open?.id : nil
    if let noted = state.typingNoted, noted.conversation != typingHere {
        effects.append(.stopTyping(noted.conversation))
        state.typingNoted = nil
    }
    if let typingHere, state.typingNoted.map({ state.now - $0.at >= typingRenewSeconds }) ?? true {
        effects.append(.typing(typingHere))
        state.typingNoted = TypingNoted(conversation: typingHere, at: state.now)
    }
    return effects
}

/// How often a typing note is renewed while the agent types; the app makes each note last
/// a little longer than this.
public let typingRenewSeconds: Int64 = 3

// MARK: - Claims

/// The conversation `a`, `x`, `n` and `L` act on: the open one in the thread, else the selected one.
private func targetConversation(_ state: AppState) -> ConversationSummary? {
    if state.focus == .thread, let open = state.open { return open }
    return state.selectedIndex.map { state.conversations[$0] }
}

private func claimKey(takeover: ConversationID?, _ state: inout AppState) -> [Effect] {
    guard let agent = state.agent, let conversation = targetConversation(state) else { return [] }
    switch conversation.assignee {
    case agent?:
        return [.release(conversation.id)]
    case let holder? where takeover != conversation.id:
        state.flash = "\(TerminalText.sanitize(holder)) has this conversation: press a again to take it over"
        state.pendingTakeover = conversation.id
        return []
    case _?:
        return [.claim(conversation.id, takeOver: true)]
    case nil:
        return [.claim(conversation.id, takeOver: false)]
    }
}

private func resolveKey(_ state: inout AppState) -> [Effect] {
    guard let conversation = targetConversation(state) else { return [] }
    return [conversation.resolvedAt == nil ? .resolve(conversation.id) : .reopen(conversation.id)]
}

private func threadKey(_ key: Key, _ state: inout AppState) -> [Effect] {
    let index = state.thread.firstIndex { $0.rowID == state.pickedMessage }
    switch key {
    case .character("k"), .up:
        if let index, index > 0 { state.pickedMessage = state.thread[index - 1].rowID }
        if index == 0, state.threadHasOlder, let open = state.open {
            return [.loadThread(open.id, limit: state.thread.count + 200)]
        }
    case .character("j"), .down:
        if let index, index + 1 < state.thread.count {
            state.pickedMessage = state.thread[index + 1].rowID
        } else {
            state.focus = .compose
            state.pickedMessage = nil
        }
    case .character("g"), .home:
        state.pickedMessage = state.thread.first?.rowID
    case .character("G"), .end:
        state.pickedMessage = state.thread.last?.rowID
    case .pageUp:
        state.threadScroll += max(1, state.height / 2)
    case .pageDown:
        state.threadScroll = max(0, state.threadScroll - max(1, state.height / 2))
    case .character("r"):
        if let index {
            state.replyTo = state.thread[index]
            state.focus = .compose
            state.pickedMessage = nil
        }
    case .character("R"):
        guard let index else { break }
        let message = state.thread[index]
        guard message.direction == .outbound, message.status == .uncertain, let localID = message.localID else {
            state.flash = "only a message marked ? (outcome unknown) can be resent"
            break
        }
        return [.resend(localID: localID)]
    case .character("t"), .control("t"):
        return openTemplatePicker(&state)
    case .character("o"), .character("S"):
        guard let index else { break }
        return fileKey(opening: key == .character("o"), state.thread[index], &state)
    case .character("d"):
        if let index { state.details = state.thread[index] }
    case .escape, .tab:
        state.focus = .compose
        state.pickedMessage = nil
    case .character("q"), .character("h"), .left:
        state.focus = .list
        state.pickedMessage = nil
        if state.isNarrow { state.showingThread = false }
    case .character("?"):
        state.showHelp = true
    default:
        break
    }
    return []
}

/// `o` (open) and `S` (save a copy) on the picked message: its file once downloaded,
/// else why there is none yet.
private func fileKey(opening: Bool, _ message: StoredMessage, _ state: inout AppState) -> [Effect] {
    guard case .media(let attachment) = message.content else {
        state.flash = "o and S work on a photo, video, voice note or document: pick one with ↑ ↓"
        return []
    }
    let media = message.media
    switch media?.state ?? .pending {
    case .ready:
        guard let path = media?.path else {
            state.flash = "downloaded, but the store does not say where the file is"
            return []
        }
        if opening { return [.openFile(path: path)] }
        let name = MediaFiles.savedName(for: attachment, mimeType: media?.mimeType, sentAt: message.timestamp,
                                        utcOffset: state.utcOffset)
        return [.saveFile(path: path, name: name)]
    case .pending where state.listener.sending != .on:
        state.flash = "not downloaded: files are fetched by a wabox with an access token (WABOX_ACCESS_TOKEN)"
    case .pending:
        state.flash = "still downloading" + (media?.reason.map { " (\($0))" } ?? "") + ": try again once it says downloaded"
    case .failed:
        state.flash = "failed: " + (media?.reason ?? "no reason given")
    case .expired:
        state.flash = "expired: " + (media?.reason ?? "the Cloud API no longer has it")
    }
    return []
}

private func searchKey(_ key: Key, _ state: inout AppState) -> [Effect] {
    switch key {
    case .escape:
        state.focus = .list
        state.searchHits = []
        return []
    case .down:
        state.searchSelected = min(state.searchSelected + 1, max(0, state.searchHits.count - 1))
        return []
    case .up:
        state.searchSelected = max(0, state.searchSelected - 1)
        return []
    case .enter:
        guard state.searchHits.indices.contains(state.searchSelected) else { return [] }
        let hit = state.searchHits[state.searchSelected]
        state.focus = .thread
        state.searchHits = []
        state.selected = hit.conversation.id
        state.selectionMoved = true
        var effects = show(hit.conversation, &state)
        state.pickedMessage = hit.message.rowID
        effects = effects.map { effect in
            if case .loadThread(let id, _) = effect { return .loadThread(id, limit: 2_000) }
            return effect
        }
        if state.isNarrow { state.showingThread = true }
        return effects + [.markRead(hit.conversation.id)]
    default:
        guard edit(&state.searchQuery, with: key) else { return [] }
        state.searchSelected = 0
        let query = state.searchQuery.text.trimmingCharacters(in: .whitespaces)
        if query.isEmpty {
            state.searchHits = []
            return []
        }
        return [.search(state.searchQuery.text)]
    }
}

private func openTemplatePicker(_ state: inout AppState) -> [Effect] {
    guard state.open != nil else { return [] }
    state.templatePicker = TemplatePicker()
    return [.loadTemplates]
}

private func pickerKey(_ key: Key, _ state: inout AppState) -> [Effect] {
    guard var picker = state.templatePicker else { return [] }
    let count = picker.templates?.count ?? 0
    switch key {
    case .escape, .character("q"):
        state.templatePicker = nil
        return []
    case .down, .character("j"):
        picker.selected = min(picker.selected + 1, max(0, count - 1))
    case .up, .character("k"):
        picker.selected = max(0, picker.selected - 1)
    case .enter:
        guard let templates = picker.templates, templates.indices.contains(picker.selected),
              let open = state.open else { return [] }
        let template = templates[picker.selected]
        state.templatePicker = nil
        state.replyTo = nil
        state.focus = .compose
        if state.isNarrow { state.showingThread = true }
        if template.parameterCount == 0 {
            state.threadScroll = 0
            return [.sendTemplate(open.id, template, values: [])]
        }
        state.templateDraft = TemplateDraft(template: template)
        state.compose = ComposeLine()
        return []
    default:
        return []
    }
    state.templatePicker = picker
    return []
}

/// Applies an editing key to a line; false when the key is not an edit.
func edit(_ line: inout ComposeLine, with key: Key) -> Bool {
    switch key {
    case .character(let character): line.insert(character)
    case .backspace: line.backspace()
    case .delete, .control("d"): line.deleteForward()
    case .left, .control("b"): line.moveLeft()
    case .right, .control("f"): line.moveRight()
    case .home, .control("a"): line.moveHome()
    case .end, .control("e"): line.moveEnd()
    case .control("u"): line.deleteToStart()
    case .control("w"): line.deleteWordBackward()
    default: return false
    }
    return true
}

// MARK: - Selection

private func moveSelection(by offset: Int, _ state: inout AppState) -> [Effect] {
    let index = (state.selectedIndex ?? -1) + offset
    return moveSelection(to: index, &state)
}

private func moveSelection(to index: Int, _ state: inout AppState) -> [Effect] {
    guard !state.conversations.isEmpty else { return [] }
    let clamped = min(max(0, index), state.conversations.count - 1)
    let conversation = state.conversations[clamped]
    var effects: [Effect] = []
    if conversation.id != state.selected {
        state.selected = conversation.id
        state.selectionMoved = clamped != 0
        clampListTop(&state)
        if !state.isNarrow { effects += show(conversation, &state) }
    }
    if state.hasMoreConversations, clamped + state.visibleConversations >= state.conversations.count {
        effects.append(loadConversations(state))
    }
    return effects
}

private func openSelected(_ state: inout AppState) -> [Effect] {
    guard let index = state.selectedIndex else { return [] }
    let conversation = state.conversations[index]
    var effects: [Effect] = []
    if state.open?.id != conversation.id { effects += show(conversation, &state) }
    state.focus = .compose
    if state.isNarrow { state.showingThread = true }
    if conversation.unreadCount > 0 { effects.append(.markRead(conversation.id)) }
    return effects
}

/// Shows a conversation's thread (wide: on the right; narrow: when opened).
private func show(_ conversation: ConversationSummary, _ state: inout AppState) -> [Effect] {
    state.open = conversation
    state.thread = []
    state.quoted = [:]
    state.threadScroll = 0
    state.pickedMessage = nil
    state.replyTo = nil
    state.templateDraft = nil
    state.filePrompt = nil
    state.workbench.notes = []
    return [.loadThread(conversation.id, limit: threadLimit(state))]
}

private func isReading(_ state: AppState) -> Bool {
    state.focus == .compose || state.focus == .thread
}

/// Whether a reloaded list keeps the selection on the newest conversation: the agent is in
/// the list, has not moved the selection off the top row, and has no reply half written
/// (which would then go to another customer).
private func followsNewest(_ state: AppState) -> Bool {
    (state.focus == .list || state.focus == .filter) && (!state.selectionMoved || state.selectedIndex == 0)
        && state.compose.isEmpty && state.replyTo == nil && state.templateDraft == nil && state.filePrompt == nil
}

private func clampListTop(_ state: inout AppState) {
    defer { noteViewport(&state) }
    guard let index = state.selectedIndex else {
        state.listTop = 0
        return
    }
    let visible = state.visibleConversations
    if index < state.listTop { state.listTop = index }
    if index >= state.listTop + visible { state.listTop = index - visible + 1 }
}

/// Remembers what the viewport shows: how new each conversation in it was.
private func noteViewport(_ state: inout AppState) {
    let end = min(state.conversations.count, state.listTop + state.visibleConversations)
    guard state.listTop < end else { return }
    for conversation in state.conversations[state.listTop..<end] {
        state.seenActivity[conversation.id] = conversation.lastActivityAt
    }
}

private func loadConversations(_ state: AppState) -> Effect {
    .loadConversations(filter: state.filter.text, unreadOnly: state.unreadOnly, scope: state.scope,
                       limit: state.conversationLimit)
}

func threadLimit(_ state: AppState) -> Int {
    max(state.thread.count, state.height * 3, 100)
}

import Foundation
