import InboxCore
import InboxStore

// The open conversation: header, messages anchored to the bottom, and the compose line.

extension Renderer {
    mutating func threadPane(x: Int, y: Int, width: Int, height: Int) {
        guard let open = state.open else {
            buffer.put("Select a conversation with ↑↓ or j/k, Enter to open it.", x: x + 1, y: y + 1,
                       style: theme[.notice], maxWidth: width - 2)
            return
        }
        // Header: who, on which number, and the service window.
        buffer.fill(x: x, y: y, width: width, height: 1, style: theme[.header])
        var ids: [String] = []
        if let waID = open.contact.waID { ids.append("+" + waID.rawValue) }
        if let username = open.contact.username, open.contact.name != nil { ids.append("@" + username) }
        if open.contact.waID == nil, let userID = open.contact.userID { ids.append(userID.rawValue) }
        var windowText: String
        let windowStyle: Style
        if case .open(let closesAt) = open.serviceWindow(now: state.now) {
            // Rounded down, and never the full 24h0m: the clock may lag the message by a second.
            let left = max(0, closesAt - state.now - 1)
            windowText = "window \(left / 3600)h\((left % 3600) / 60)m"
            windowStyle = theme[.header]
        } else {
            windowText = "window closed: template only"
            windowStyle = theme[.windowClosed]
        }
        if !open.labels.isEmpty { windowText = labelTags(open.labels, cells: max(2, width / 3)) + " · " + windowText }
        if open.resolvedAt != nil {
            windowText = "resolved · " + windowText
        } else if let assignee = open.assignee {
            windowText = (assignee == state.agent ? "yours" : TerminalText.sanitize(state.agentLabel(assignee)) + "'s") + " · "
                + windowText
        }
        let windowWidth = TerminalText.width(of: windowText)
        let used = buffer.put(TerminalText.truncate(TerminalText.sanitize(open.contact.displayName), to: max(1, width - windowWidth - 3)),
                              x: x + 1, y: y, style: theme[.header].merging(attributes: .bold))
        let idsText = " " + ids.joined(separator: " ")
        if width - used - windowWidth - 4 > 4 {
            buffer.put(TerminalText.truncate(idsText, to: width - used - windowWidth - 4), x: x + 1 + used, y: y,
                       style: theme[.header])
        }
        buffer.put(windowText, x: x + width - windowWidth - 1, y: y, style: windowStyle.merging(background: theme[.header].background))

        // Compose line and its reply preview at the bottom.
        let composeY = y + height - 1
        var bodyBottom = composeY
        if let prompt = state.filePrompt {
            bodyBottom -= 1
            filePromptRow(prompt, x: x, y: bodyBottom, width: width)
        }
        if let banner = workbenchBanner {
            bodyBottom -= 1
            buffer.fill(x: x, y: bodyBottom, width: width, height: 1, style: theme[.quote])
            buffer.put(glyphs.quoteBar + " " + TerminalText.truncate(banner, to: width - 4), x: x + 1, y: bodyBottom, style: theme[.quote])
        } else if let draft = state.templateDraft {
            bodyBottom -= 1
            let text = "template \(draft.template.name): " + draft.template.preview(with: draft.values)
                .replacingOccurrences(of: "\n", with: " ")
            buffer.fill(x: x, y: bodyBottom, width: width, height: 1, style: theme[.quote])
            buffer.put(glyphs.quoteBar + " " + TerminalText.truncate(TerminalText.sanitize(text), to: width - 4),
                       x: x + 1, y: bodyBottom, style: theme[.quote])
        } else if let reply = state.replyTo {
            bodyBottom -= 1
            let text = "replying to: " + Describe.preview(reply, who: open.contact.displayName, showDeleted: state.showDeleted)
                .replacingOccurrences(of: "\n", with: " ")
            buffer.fill(x: x, y: bodyBottom, width: width, height: 1, style: theme[.quote])
            buffer.put(glyphs.quoteBar + " " + TerminalText.truncate(TerminalText.sanitize(text), to: width - 4),
                       x: x + 1, y: bodyBottom, style: theme[.quote])
        }
        let typing = open.typingAgents(nowMilliseconds: state.now * 1000)
        if !typing.isEmpty, bodyBottom - 1 > y + 1 {
            bodyBottom -= 1
            buffer.put(TerminalText.truncate(TerminalText.sanitize(Describe.typing(typing.map(state.agentLabel))), to: width - 2),
                       x: x + 1, y: bodyBottom, style: theme[.notice])
        }
        composeLine(open, x: x, y: composeY, width: width)

        // Messages, anchored to the bottom.
        let lines = threadLines(width: width)
        let bodyHeight = bodyBottom - (y + 1)
        guard bodyHeight > 0 else { return }
        var scroll = min(state.threadScroll, max(0, lines.count - bodyHeight))
        if let picked = state.pickedMessage,
           let first = lines.firstIndex(where: { $0.messageRowID == picked }),
           let last = lines.lastIndex(where: { $0.messageRowID == picked }) {
            // Keep the picked message on screen.
            let end = lines.count - scroll
            if last >= end { scroll = max(0, lines.count - last - 1) }
            if first < end - bodyHeight { scroll = max(0, lines.count - first - bodyHeight) }
        }
        let end = lines.count - scroll
        let start = max(0, end - bodyHeight)
        for (offset, line) in lines[start..<end].enumerated() {
            let row = bodyBottom - (end - start) + offset
            let picked = line.messageRowID != nil && line.messageRowID == state.pickedMessage
            var column = x + 1 + line.indent
            if line.alignRight {
                column = x + width - 1 - line.segments.reduce(0) { $0 + TerminalText.width(of: $1.text) }
            }
            for segment in line.segments {
                let style = picked && !line.keepsColours ? theme[.selection] : segment.style
                column += buffer.put(segment.text, x: column, y: row, style: style, maxWidth: x + width - column)
            }
        }
        if state.threadHasOlder, start == 0 {
            buffer.put("↑ older messages: k / PgUp", x: x + 1, y: y + 1, style: theme[.notice], maxWidth: width - 2)
        }
    }

    /// Above the compose line while it asks for a file: the names a second Tab listed,
    /// the caption the file will carry, or what the keys do.
    mutating func filePromptRow(_ prompt: FilePrompt, x: Int, y: Int, width: Int) {
        buffer.fill(x: x, y: y, width: width, height: 1, style: theme[.quote])
        let room = max(1, width - 2)
        var text: String
        if let names = prompt.candidates {
            // As many names as fit, then how many more there are.
            text = ""
            for (index, name) in names.enumerated() {
                let shown = (text.isEmpty ? "" : "  ") + TerminalText.sanitize(name)
                let more = index + 1 < names.count ? "  … \(names.count - index - 1) more" : ""
                if TerminalText.width(of: text + shown + more) > room {
                    text += "  … \(names.count - index) more"
                    break
                }
                text += shown
            }
        } else if prompt.sending {
            text = "checking the file and copying it into the media store…"
        } else if !state.compose.isEmpty {
            text = "caption: " + state.compose.text
        } else {
            text = "Tab completes, Enter sends the file, Esc cancels; the reply typed is its caption"
        }
        buffer.put(TerminalText.truncate(TerminalText.sanitize(text), to: room), x: x + 1, y: y, style: theme[.quote])
    }

    mutating func composeLine(_ open: ConversationSummary, x: Int, y: Int, width: Int) {
        buffer.fill(x: x, y: y, width: width, height: 1, style: theme[.compose])
        if let prompt = state.filePrompt {
            let used = buffer.put("file: ", x: x, y: y, style: theme[.compose].merging(attributes: .bold))
            // Completed names come from the disk: sanitised like any text from outside.
            let (text, cursorOffset) = visibleSlice(prompt.path, width: width - used - 1)
            buffer.put(TerminalText.sanitize(text), x: x + used, y: y, style: theme[.compose])
            if state.focus == .compose { cursor = (x + used + cursorOffset, y) }
            return
        }
        var prompt = glyphs.prompt
        if let draft = state.templateDraft {
            prompt = "{{\(draft.values.count + 1)}} of \(draft.template.parameterCount) " + glyphs.prompt
        }
        prompt = workbenchPrompt ?? prompt
        let used = buffer.put(prompt, x: x, y: y, style: theme[.compose])
        if state.compose.isEmpty, workbenchComposeHint != nil || state.templateDraft != nil || !open.serviceWindow(now: state.now).isOpen {
            let hint = workbenchComposeHint ?? (state.templateDraft != nil ? "type the value, Enter for the next, Esc cancels"
                : "window closed: Ctrl-T picks a template")
            buffer.put(hint, x: x + used, y: y, style: theme[.notice].merging(background: theme[.compose].background),
                       maxWidth: width - used)
            if state.focus == .compose { cursor = (x + used, y) }
            return
        }
        if state.compose.isEmpty, state.focus != .compose {
            let hint = "Enter to write a reply"
            buffer.put(hint, x: x + used, y: y, style: theme[.notice].merging(background: theme[.compose].background),
                       maxWidth: width - used)
            return
        }
        let (text, cursorOffset) = visibleSlice(state.compose, width: width - used - 1)
        buffer.put(text, x: x + used, y: y, style: theme[.compose])
        if state.focus == .compose { cursor = (x + used + cursorOffset, y) }
    }

    struct Segment {
        var text: String
        var style: Style
    }

    struct Line {
        var segments: [Segment]
        var alignRight = false
        var indent = 0
        var messageRowID: Int64?
        /// A picture: drawn in its own colours, picked or not.
        var keepsColours = false
    }

    /// How wide a message bubble may be in a thread pane `width` cells wide.
    static func bubbleWidth(threadWidth width: Int) -> Int { max(10, min(width - 4, width * 3 / 4)) }

    /// Every line of the thread, oldest first: day separators, notices, quotes, bodies,
    /// times with ticks, reactions and failure reasons.
    func threadLines(width: Int) -> [Line] {
        var lines: [Line] = []
        let bubble = Self.bubbleWidth(threadWidth: width)
        var lastDay: Int?
        // Notes go between the messages by time; those older than what is loaded wait for it.
        var notes = state.workbench.notes.drop { state.threadHasOlder && $0.createdAt < (state.thread.first?.timestamp ?? 0) }
        for message in state.thread {
            lines += notesBefore(message.timestamp, &notes, width: width)
            let day = Describe.civil(message.timestamp, offset: state.utcOffset).dayNumber
            if day != lastDay {
                let label = " " + Describe.day(message.timestamp, offset: state.utcOffset) + " "
                let side = max(0, (width - 2 - TerminalText.width(of: label)) / 2)
                let rule = String(repeating: glyphs.horizontal, count: side)
                lines.append(Line(segments: [Segment(text: rule + label + rule, style: theme[.separator])]))
                lastDay = day
            }
            let id = message.rowID
            if Describe.isNotice(message.content) {
                let name = state.open?.contact.displayName ?? "customer"
                var notice = message.content == .requestWelcome ? name + " " + Describe.content(message.content)
                    : Describe.preview(message, who: name, showDeleted: true)
                if case .call = message.content {
                    notice = Describe.clock(message.timestamp, offset: state.utcOffset) + " · " + notice
                }
                for text in TerminalText.wrap(TerminalText.sanitize(notice), to: width - 6) {
                    let pad = max(0, (width - 2 - TerminalText.width(of: text)) / 2)
                    lines.append(Line(segments: [Segment(text: text, style: theme[.notice])], indent: pad, messageRowID: id))
                }
                continue
            }
            let outbound = message.direction == .outbound
            let bodyStyle = outbound ? theme[.outbound] : theme[.inbound]
            var block: [Line] = []
            block += echoLines(message)
            if message.forwarded {
                block.append(Line(segments: [Segment(text: glyphs.forwarded + " forwarded", style: theme[.notice])]))
            }
            if let replyTo = message.replyTo {
                let quoted = state.quoted[replyTo].map {
                    Describe.preview($0, who: state.open?.contact.displayName ?? "customer", showDeleted: state.showDeleted)
                } ?? "an earlier message"
                let text = TerminalText.truncate(TerminalText.sanitize(quoted.replacingOccurrences(of: "\n", with: " ")),
                                                 to: bubble - 2)
                block.append(Line(segments: [Segment(text: glyphs.quoteBar + " " + text, style: theme[.quote])]))
            }
            if let deletedAt = message.deletedAt {
                // The customer deleted it: its words are drawn only for a team that keeps
                // them (show_deleted), struck through.
                if state.showDeleted {
                    for text in TerminalText.wrap(sanitizeLines(Describe.content(message.content)), to: bubble) {
                        block.append(Line(segments: [Segment(text: struck(text), style: theme[.notice])]))
                    }
                }
                let words = "deleted by the customer at " + Describe.clock(deletedAt, offset: state.utcOffset)
                for text in TerminalText.wrap(words, to: bubble) {
                    block.append(Line(segments: [Segment(text: text, style: theme[.notice].merging(attributes: .italic))]))
                }
            } else {
                for text in TerminalText.wrap(sanitizeLines(Describe.content(message.content)), to: bubble) {
                    block.append(Line(segments: [Segment(text: text, style: bodyStyle)]))
                }
                if case .unreadable = message.content {
                    for text in TerminalText.wrap("pick it and press d to see it as it came", to: bubble) {
                        block.append(Line(segments: [Segment(text: text, style: theme[.notice])]))
                    }
                }
            }
            block += pictureLines(for: message)
            block += buttonLines(message, bubble: bubble)

            var meta: [Segment] = []
            if outbound, let agent = message.agent {
                // Who sent it, as the claim marker names them: the account, its display name beside it.
                let who = TerminalText.truncate(TerminalText.sanitize(state.agentLabel(agent)), to: max(1, bubble / 3))
                meta.append(Segment(text: who + " · ", style: theme[.time]))
            }
            meta.append(Segment(text: Describe.clock(message.timestamp, offset: state.utcOffset), style: theme[.time]))
            if let editedAt = message.editedAt, message.deletedAt == nil || state.showDeleted {
                meta.append(Segment(text: " · edited " + Describe.clock(editedAt, offset: state.utcOffset), style: theme[.time]))
            }
            if case .media = message.content, !outbound {
                // A customer's file: its size and where its download stands, beside the time.
                let failed = message.media?.state == .failed || message.media?.state == .expired
                let words = TerminalText.sanitize(Describe.media(message.media, downloading: state.listener.sending == .on))
                meta.append(Segment(text: TerminalText.truncate(" · " + words, to: max(1, bubble - 6)),
                                    style: failed ? theme[.failed] : theme[.time]))
            }
            if outbound, let status = message.status {
                let (tick, style) = tickGlyph(status)
                meta.append(Segment(text: " " + tick, style: style))
            }
            meta += reactionSegments(message)
            block.append(Line(segments: meta))
            if !outbound, let transcript = message.media?.transcript {
                block += transcriptLines(transcript, width: bubble)
            }
            block += reactionProblemLines(message, bubble: bubble)
            if outbound, message.status == .failed {
                let reason = TerminalText.sanitize(Describe.reason(message.error))
                for text in TerminalText.wrap(glyphs.failed + " not sent: " + reason, to: bubble) {
                    block.append(Line(segments: [Segment(text: text, style: theme[.failed])]))
                }
            } else if outbound, message.status == .uncertain {
                let text = "? may not have gone out (" + TerminalText.sanitize(message.outboxNote ?? "no answer from the Cloud API")
                    + "): pick it and press R to send again"
                for text in TerminalText.wrap(text, to: bubble) {
                    block.append(Line(segments: [Segment(text: text, style: theme[.failed])]))
                }
            } else if outbound, message.status == .accepted, message.heldForQualityReview {
                for text in TerminalText.wrap("held by WhatsApp for quality review", to: bubble) {
                    block.append(Line(segments: [Segment(text: text, style: theme[.notice])]))
                }
            } else if outbound, message.status == .pending, let note = message.outboxNote {
                for text in TerminalText.wrap("retrying: " + TerminalText.sanitize(note), to: bubble) {
                    block.append(Line(segments: [Segment(text: text, style: theme[.notice])]))
                }
            }
            for var line in block {
                line.alignRight = outbound
                line.messageRowID = id
                lines.append(line)
            }
        }
        return lines + notesBefore(nil, &notes, width: width)
    }

    /// Under a voice note: what `transcribe_command` made of it, marked as a transcript.
    private func transcriptLines(_ transcript: MediaStatus.Transcript, width: Int) -> [Line] {
        let (text, style): (String, Style) = switch transcript.state {
        case .running: ("transcribing…", theme[.notice])
        case .done:
            ("transcript: " + sanitizeLines(transcript.text.flatMap { $0.isEmpty ? nil : $0 } ?? "(no words)"), theme[.notice])
        case .failed: ("no transcript: " + TerminalText.sanitize(transcript.reason ?? "the transcriber failed"), theme[.failed])
        }
        return TerminalText.wrap(text, to: width).map { Line(segments: [Segment(text: $0, style: style)]) }
    }

    /// `text` struck through: a combining long stroke over each character (curses has no
    /// strike-through attribute); in ASCII, between tildes.
    func struck(_ text: String) -> String {
        state.asciiOnly ? "~" + text + "~" : String(text.map { Character(String($0) + "\u{0336}") })
    }

    /// Sanitises each line of a multi-line text, keeping the line breaks.
    private func sanitizeLines(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false)
            .map { TerminalText.sanitize(String($0)) }
            .joined(separator: "\n")
    }

    func tickGlyph(_ status: DeliveryStatus) -> (String, Style) {
        switch status {
        case .pending: (glyphs.pending, theme[.tickPending])
        case .uncertain: ("?", theme[.tickFailed])
        case .accepted: (glyphs.accepted, theme[.tickPending])
        case .sent: (glyphs.sent, theme[.tickSent])
        case .delivered: (glyphs.delivered, theme[.tickDelivered])
        case .read: (glyphs.delivered, theme[.tickRead])
        case .played: (glyphs.played, theme[.tickPlayed])
        case .failed: (glyphs.failed, theme[.tickFailed])
        }
    }
}
