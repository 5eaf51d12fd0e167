import InboxCore
import InboxStore

// What the workbench draws: reactions with their ticks, reply buttons, the phone-app mark,
// the compose line while titling buttons, and the reaction picker, contact panel and raw
// view overlays.

extension Renderer {
    // MARK: - In the thread

    /// The line above a message's body: sent from the WhatsApp Business app.
    func echoLines(_ message: StoredMessage) -> [Line] {
        guard message.sentFromPhoneApp else { return [] }
        return [Line(segments: [Segment(text: "sent from the phone app", style: theme[.notice])])]
    }

    /// Under the body of a message with reply buttons: the buttons, as the customer sees them.
    func buttonLines(_ message: StoredMessage, bubble: Int) -> [Line] {
        guard !message.buttons.isEmpty else { return [] }
        let text = message.buttons.map { "[ " + TerminalText.sanitize($0) + " ]" }.joined(separator: " ")
        return TerminalText.wrap(text, to: bubble).map {
            Line(segments: [Segment(text: $0, style: theme[.quote])])
        }
    }

    /// The reactions on the time line: the customers', then the business's with its ticks.
    func reactionSegments(_ message: StoredMessage) -> [Segment] {
        guard !message.reactions.isEmpty else { return [] }
        var segments = [Segment(text: " ", style: theme[.reaction])]
        for reaction in message.reactions {
            let emoji = reaction.emoji.isEmpty ? "−" : TerminalText.sanitize(reaction.emoji)
            segments.append(Segment(text: " " + emoji, style: theme[.reaction]))
            if reaction.isBusiness, let status = reaction.status {
                let (tick, style) = tickGlyph(status)
                segments.append(Segment(text: tick, style: style))
            }
        }
        return segments
    }

    /// Under the time line: the business's reaction that failed or may not have gone out.
    func reactionProblemLines(_ message: StoredMessage, bubble: Int) -> [Line] {
        guard let reaction = message.reactions.first(where: { $0.isBusiness && ($0.status == .failed || $0.status == .uncertain) })
        else { return [] }
        let what = reaction.emoji.isEmpty ? "removing your reaction" : "reaction " + TerminalText.sanitize(reaction.emoji)
        let text = reaction.status == .failed
            ? glyphs.failed + " " + what + " not sent: " + TerminalText.sanitize(Describe.reason(reaction.error))
            : "? " + what + " may not have gone out: pick the message and press R to send it again"
        return TerminalText.wrap(text, to: bubble).map { Line(segments: [Segment(text: $0, style: theme[.failed])]) }
    }

    /// Above the compose line while buttons are titled: the text and the buttons so far.
    var workbenchBanner: String? {
        guard let draft = state.workbench.buttonDraft else { return nil }
        let buttons = draft.titles.map { "[ \($0) ]" }.joined(separator: " ")
        return TerminalText.sanitize("buttons for: " + draft.body.replacingOccurrences(of: "\n", with: " ")
            + (buttons.isEmpty ? "" : " · " + buttons))
    }

    /// The compose line's prompt while buttons are titled.
    var workbenchPrompt: String? {
        state.workbench.buttonDraft.map { "button \($0.titles.count + 1) of \(ReplyButtons.maxButtons) " + glyphs.prompt }
    }

    /// What the empty compose line says while buttons are titled.
    var workbenchComposeHint: String? {
        guard let draft = state.workbench.buttonDraft else { return nil }
        return draft.titles.isEmpty
            ? "a button title (up to \(ReplyButtons.maxTitleLength) characters), Enter; Esc goes back to the text"
            : "another title, or Enter to send with \(draft.titles.count) button\(draft.titles.count == 1 ? "" : "s")"
    }

    // MARK: - Overlays

    mutating func workbenchOverlays() {
        if let picker = state.workbench.reactionPicker { reactionOverlay(picker) }
        if let panel = state.workbench.contactPanel { contactOverlay(panel) }
        if let view = state.workbench.rawView { rawOverlay(view) }
    }

    private mutating func box(width: Int, height: Int, title: String) -> (x: Int, y: Int, width: Int, height: Int) {
        let boxWidth = min(state.width - 2, width)
        let boxHeight = min(state.height - 2, height)
        let x0 = (state.width - boxWidth) / 2, y0 = (state.height - boxHeight) / 2
        buffer.fill(x: x0, y: y0, width: boxWidth, height: boxHeight, style: theme[.help])
        buffer.put(" " + title + " ", x: x0 + 2, y: y0, style: theme[.help].merging(attributes: .bold), maxWidth: boxWidth - 4)
        return (x0, y0, boxWidth, boxHeight)
    }

    private mutating func reactionOverlay(_ picker: ReactionPicker) {
        let frame = box(width: 50, height: 7, title: "React — ← → Enter, or 1–6; Esc closes")
        var x = frame.x + 2
        for (index, emoji) in ReactionPicker.choices.enumerated() {
            let style = index == picker.selected && picker.typed.isEmpty ? theme[.selection] : theme[.help]
            x += buffer.put(" \(emoji) ", x: x, y: frame.y + 2, style: style)
            x += 1
        }
        let typed = "or type one: " + TerminalText.sanitize(picker.typed.text)
        buffer.put(typed, x: frame.x + 2, y: frame.y + 3, style: theme[.help], maxWidth: frame.width - 4)
        if let current = picker.current {
            buffer.put("yours now: \(current), choose it again to remove it", x: frame.x + 2, y: frame.y + 4,
                       style: theme[.help].merging(attributes: .dim), maxWidth: frame.width - 4)
        }
    }

    private mutating func contactOverlay(_ panel: ContactPanel) {
        guard let details = panel.details else {
            let frame = box(width: 40, height: 4, title: "Contact")
            buffer.put("loading…", x: frame.x + 2, y: frame.y + 2, style: theme[.help])
            return
        }
        let rows = contactRows(details)
        let frame = box(width: 70, height: rows.count + 4, title: TerminalText.sanitize(details.conversation.contact.displayName)
            + " — any key closes")
        for (index, row) in rows.prefix(frame.height - 3).enumerated() {
            let y = frame.y + 2 + index
            buffer.put(row.0, x: frame.x + 2, y: y, style: theme[.help].merging(attributes: .bold), maxWidth: 11)
            buffer.put(TerminalText.truncate(row.1, to: frame.width - 16), x: frame.x + 14, y: y, style: theme[.help])
        }
    }

    /// The panel's rows: a label and what it says, every outside text sanitised.
    func contactRows(_ details: ContactDetails) -> [(String, String)] {
        let conversation = details.conversation
        let contact = conversation.contact
        let clean = TerminalText.sanitize
        var rows: [(String, String)] = []
        rows.append(("number", contact.waID.map { "+" + clean($0.rawValue) } ?? "none (known by user id only)"))
        if let userID = contact.userID { rows.append(("user id", clean(userID.rawValue))) }
        if let parent = contact.parentUserID { rows.append(("parent id", clean(parent.rawValue))) }
        rows.append(("username", contact.username.map { "@" + clean($0) } ?? "none"))
        for previous in details.previousNumbers {
            rows.append(("earlier", "+" + clean(previous.waID.rawValue) + " (until " + Describe.day(previous.changedAt, offset: state.utcOffset) + ")"))
        }
        let business = conversation.business.displayPhoneNumber.map { "+" + clean($0) } ?? clean(conversation.business.phoneNumberID.rawValue)
        rows.append(("writes to", ([business] + details.otherBusinessNumbers.map { clean($0) }).joined(separator: ", ")))
        func describe(_ message: StoredMessage?) -> String {
            guard let message else { return "none" }
            let when = Describe.day(message.timestamp, offset: state.utcOffset) + " " + Describe.clock(message.timestamp, offset: state.utcOffset)
            let who = message.direction == .inbound ? "" : "you: "
            return when + " · " + who + clean(Describe.content(message.content).replacingOccurrences(of: "\n", with: " "))
        }
        rows.append(("first", describe(details.firstMessage)))
        rows.append(("last", describe(details.lastMessage)))
        rows.append(("messages", "\(details.receivedCount) received · \(details.sentCount) sent"))
        switch conversation.serviceWindow(now: state.now) {
        case .open(let closesAt):
            let left = max(0, closesAt - state.now - 1)
            rows.append(("window", "open, \(left / 3600)h\((left % 3600) / 60)m left: free-form replies go through"))
        case .closed(let why):
            rows.append(("window", why.description))
        }
        var claim = conversation.assignee.map { clean(state.agentLabel($0)) + ($0 == state.agent ? " (you)" : "") } ?? "nobody"
        if let since = details.claimedAt, conversation.assignee != nil {
            claim += " since " + Describe.relative(since, now: state.now, offset: state.utcOffset)
        }
        if conversation.resolvedAt != nil { claim += " · resolved" }
        rows.append(("claimed by", claim))
        rows.append(("labels", details.labels.map { $0.isEmpty ? "none" : $0.map(clean).joined(separator: ", ") }
            ?? "not kept by this version"))
        rows.append(("notes", details.notesCount.map(String.init) ?? "not kept by this version"))
        return rows
    }

    private mutating func rawOverlay(_ view: RawView) {
        let frame = box(width: state.width - 2, height: state.height - 2, title: TerminalText.sanitize(view.title))
        let textWidth = frame.width - 4
        let rows = frame.height - 4
        guard rows > 0, textWidth > 4 else { return }
        if let problem = view.problem {
            for (index, line) in TerminalText.wrap(TerminalText.sanitize(problem), to: textWidth).prefix(rows).enumerated() {
                buffer.put(line, x: frame.x + 2, y: frame.y + 2 + index, style: theme[.failed].merging(background: theme[.help].background))
            }
        } else if view.lines.isEmpty {
            buffer.put("loading…", x: frame.x + 2, y: frame.y + 2, style: theme[.help])
        } else {
            var y = frame.y + 2
            var index = view.top
            while y < frame.y + 2 + rows, index < view.lines.count {
                for piece in TerminalText.wrap(view.lines[index], to: textWidth) where y < frame.y + 2 + rows {
                    buffer.put(piece, x: frame.x + 2, y: y, style: theme[.help])
                    y += 1
                }
                index += 1
            }
        }
        let position = view.lines.isEmpty ? "" : "line \(view.top + 1) of \(view.lines.count) · "
        buffer.put(position + "j k PgUp PgDn g G scroll · Esc closes", x: frame.x + 2, y: frame.y + frame.height - 1,
                   style: theme[.help].merging(attributes: .dim), maxWidth: frame.width - 4)
    }
}
