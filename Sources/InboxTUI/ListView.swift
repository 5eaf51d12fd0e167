import InboxCore
import InboxStore

// The conversation list: its header or filter line, and two rows per conversation.

extension Renderer {
    mutating func listPane(x: Int, y: Int, width: Int, height: Int) {
        let unread = state.conversations.reduce(0) { $0 + $1.unreadCount }
        if state.focus == .filter || !state.filter.isEmpty {
            buffer.fill(x: x, y: y, width: width, height: 1, style: theme[.filter])
            let used = buffer.put("/", x: x, y: y, style: theme[.filter])
            let fieldX = x + used
            let (text, cursorOffset) = visibleSlice(state.filter, width: width - used - 1)
            let textWidth = buffer.put(text, x: fieldX, y: y, style: theme[.filter], maxWidth: width - used)
            filterSummary(x: fieldX + textWidth, y: y, width: width - used - textWidth)
            if state.focus == .filter { cursor = (fieldX + cursorOffset, y) }
        } else {
            var title = "Inbox"
            if unread > 0 { title += " · \(unread) unread" }
            buffer.fill(x: x, y: y, width: width, height: 1, style: theme[.header])
            let used = buffer.put(title, x: x + 1, y: y, style: theme[.header], maxWidth: width - 1)
            let changed = state.changedAboveViewport
            if changed > 0 {
                // What changed above the viewport since the agent scrolled away; g goes there.
                buffer.put(" · " + glyphs.newAbove + " \(changed) new", x: x + 1 + used, y: y,
                           style: theme[.unread].merging(background: theme[.header].background),
                           maxWidth: max(0, width - 1 - used))
            }
        }
        var labels: [String] = []
        if state.scope != .all { labels.append(state.scope.rawValue) }
        if state.unreadOnly { labels.append("unread") }
        if !labels.isEmpty {
            let label = "[" + labels.joined(separator: " ") + "]"
            buffer.put(label, x: x + width - TerminalText.width(of: label), y: y, style: theme[.unread])
        }
        let rows = height - 1
        if let problem = state.filterProblem {
            filterProblem(problem, x: x, y: y + 2, width: width, rows: rows - 1)
            return
        }
        guard !state.conversations.isEmpty else {
            var message = switch (state.scope, state.filter.isEmpty && !state.unreadOnly) {
            case (.all, true): "No conversations yet. Webhooks that arrive show up here."
            case (.mine, true): "Nothing open is claimed by you. a claims the selected conversation; v shows the others."
            case (.unassigned, true): "Every open conversation is claimed. v shows the others."
            default: "Nothing matches. Esc clears the filter."
            }
            if state.workbench.listScanning { message = "Looking through older conversations…" }
            for (index, line) in TerminalText.wrap(message, to: width - 2).prefix(rows).enumerated() {
                buffer.put(line, x: x + 1, y: y + 2 + index, style: theme[.notice])
            }
            return
        }
        let visible = max(1, rows / 2)
        for slot in 0..<visible {
            let index = state.listTop + slot
            guard index < state.conversations.count else { break }
            entry(state.conversations[index], x: x, y: y + 1 + slot * 2, width: width)
        }
    }

    mutating func entry(_ conversation: ConversationSummary, x: Int, y: Int, width: Int) {
        let isSelected = conversation.id == state.selected
        let base = isSelected ? theme[.selection] : theme[.list]
        buffer.fill(x: x, y: y, width: width, height: 2, style: base)
        let unread = conversation.unreadCount > 0
        let time = Describe.relative(conversation.lastActivityAt, now: state.now, offset: state.utcOffset)
        let badge = unread ? " (\(conversation.unreadCount))" : ""
        // Who holds it, or that it is resolved: the name keeps at least a few cells.
        var owner = ""
        if conversation.resolvedAt != nil {
            owner = " done"
        } else if let assignee = conversation.assignee {
            owner = " " + TerminalText.truncate(TerminalText.sanitize(state.agentLabel(assignee)), to: max(1, width / 4))
        }
        let right = owner + badge + " " + time
        let rightWidth = TerminalText.width(of: right)
        let nameStyle = unread && !isSelected ? theme[.unread] : base
        buffer.put(unread ? glyphs.unreadDot : " ", x: x, y: y, style: unread && !isSelected ? theme[.unread] : base)
        buffer.put(TerminalText.truncate(TerminalText.sanitize(conversation.contact.displayName), to: width - rightWidth - 3),
                   x: x + 2, y: y, style: nameStyle.merging(attributes: unread ? .bold : []))
        var rightX = x + width - rightWidth
        if !owner.isEmpty {
            let mine = conversation.assignee == state.agent && conversation.resolvedAt == nil
            rightX += buffer.put(owner, x: rightX, y: y,
                                 style: isSelected ? base : theme[.time].merging(attributes: mine ? .bold : []))
        }
        if unread {
            rightX += buffer.put(badge, x: rightX, y: y, style: isSelected ? base : theme[.unread])
        }
        buffer.put(" " + time, x: rightX, y: y, style: isSelected ? base : theme[.time])

        var previewX = x + 2
        var previewWidth = width - 3
        if !conversation.serviceWindow(now: state.now).isOpen {
            buffer.put(glyphs.windowClosed, x: x + width - 2, y: y + 1, style: isSelected ? base : theme[.windowClosed])
            previewWidth -= 2
        }
        let tags = labelTags(conversation.labels, cells: previewWidth / 2)
        if !tags.isEmpty {
            let used = buffer.put(tags, x: previewX, y: y + 1, style: isSelected ? base : theme[.quote]) + 1
            previewX += used
            previewWidth -= used
        }
        let typing = conversation.typingAgents(nowMilliseconds: state.now * 1000)
        if !typing.isEmpty {
            buffer.put(TerminalText.truncate(TerminalText.sanitize(Describe.typing(typing.map(state.agentLabel))), to: previewWidth),
                       x: previewX, y: y + 1, style: isSelected ? base : theme[.notice])
        } else if let message = conversation.lastMessage {
            if message.direction == .outbound, let status = message.status, message.content.typeName != "call" {
                let (tick, style) = tickGlyph(status)
                let used = buffer.put(tick, x: previewX, y: y + 1, style: isSelected ? base : style)
                previewX += used + 1
                previewWidth -= used + 1
            }
            let preview = Describe.preview(message, who: conversation.contact.displayName, showDeleted: state.showDeleted)
                .replacingOccurrences(of: "\n", with: " ")
            buffer.put(TerminalText.truncate(TerminalText.sanitize(preview), to: previewWidth),
                       x: previewX, y: y + 1, style: isSelected ? base : theme[.preview])
        }
    }
}
