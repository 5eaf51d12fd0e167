import InboxCore
import InboxStore

// The picked message shown whole (`d` in the thread): its id, every version the customer
// wrote, its deletion, a call's figures, and the raw form of what wabox could not read.

extension Renderer {
    mutating func detailsOverlay(_ message: StoredMessage) {
        let boxWidth = min(state.width - 2, 76)
        let textWidth = max(1, boxWidth - 4)
        let lines = detailLines(message).flatMap { line in
            TerminalText.wrap(TerminalText.sanitize(line.text), to: textWidth).map { (text: $0, bold: line.bold) }
        }
        let boxHeight = min(state.height - 2, lines.count + 3)
        let x0 = (state.width - boxWidth) / 2, y0 = (state.height - boxHeight) / 2
        buffer.fill(x: x0, y: y0, width: boxWidth, height: boxHeight, style: theme[.help])
        buffer.put(" Message — any key closes ", x: x0 + 2, y: y0, style: theme[.help].merging(attributes: .bold),
                   maxWidth: boxWidth - 4)
        for (index, line) in lines.prefix(max(0, boxHeight - 3)).enumerated() {
            buffer.put(line.text, x: x0 + 2, y: y0 + 2 + index,
                       style: line.bold ? theme[.help].merging(attributes: .bold) : theme[.help], maxWidth: textWidth)
        }
    }

    private func detailLines(_ message: StoredMessage) -> [(text: String, bold: Bool)] {
        let offset = state.utcOffset
        func when(_ timestamp: Int64) -> String {
            Describe.day(timestamp, offset: offset) + " " + Describe.clock(timestamp, offset: offset)
        }
        var lines: [(text: String, bold: Bool)] = []
        let id = message.wamid?.rawValue ?? message.localID.map { "local:" + $0 } ?? String(message.rowID)
        lines.append(("\(message.content.typeName) \(id)", true))
        lines.append(((message.direction == .outbound ? "sent " : "received ") + when(message.timestamp), false))
        let hidden = message.deletedAt != nil && !state.showDeleted
        if let deletedAt = message.deletedAt {
            lines.append(("deleted by the customer " + when(deletedAt)
                + (hidden ? "; its content is kept but not shown (show_deleted = true shows it)" : ""), false))
        }
        if !hidden {
            switch message.content {
            case .call(let call):
                let who = state.open?.contact.displayName ?? "the customer"
                lines.append((Describe.call(call, who: who), false))
                if let ended = call.endedAt { lines.append(("ended " + when(ended), false)) }
            case .unreadable(_, let reason, let raw):
                lines.append(("wabox could not read it: " + reason, false))
                lines.append(("as it came:", true))
                lines.append((raw, false))
            case .unknown(let type, let raw):
                lines.append(("a type this wabox does not know (\(type)), as it came:", true))
                lines.append((raw, false))
            default:
                lines.append((Describe.content(message.content).replacingOccurrences(of: "\n", with: " "), false))
            }
            if let editedAt = message.editedAt {
                lines.append(("edited " + when(editedAt) + "; before:", true))
                for version in message.earlierVersions.reversed() {
                    let words = Describe.content(version.content).replacingOccurrences(of: "\n", with: " ")
                    lines.append((Describe.clock(version.timestamp, offset: offset) + "  " + words, false))
                }
            }
        }
        return lines
    }
}
