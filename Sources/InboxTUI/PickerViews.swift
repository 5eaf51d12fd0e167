import InboxCore
import InboxStore

// Overlays that pick something: the template picker.

extension Renderer {
    mutating func templateOverlay(_ picker: TemplatePicker) {
        let boxWidth = min(state.width - 2, 70)
        let note = picker.note.map { TerminalText.wrap(TerminalText.sanitize($0), to: max(1, boxWidth - 4)) } ?? []
        let rows = picker.templates.map { max(1, $0.count) } ?? 1
        let boxHeight = min(state.height - 2, rows + 5 + (note.isEmpty ? 0 : note.count + 1))
        let x0 = (state.width - boxWidth) / 2, y0 = (state.height - boxHeight) / 2
        buffer.fill(x: x0, y: y0, width: boxWidth, height: boxHeight, style: theme[.help])
        buffer.put(" Templates — Enter picks, Esc closes ", x: x0 + 2, y: y0, style: theme[.help].merging(attributes: .bold),
                   maxWidth: boxWidth - 4)
        guard let templates = picker.templates, !templates.isEmpty else {
            let text = picker.error ?? "loading approved templates…"
            for (index, line) in TerminalText.wrap(TerminalText.sanitize(text), to: boxWidth - 4).prefix(boxHeight - 3).enumerated() {
                buffer.put(line, x: x0 + 2, y: y0 + 2 + index, style: picker.error == nil ? theme[.help] : theme[.failed])
            }
            return
        }
        // Why some are missing, below the list (the customer opted out of marketing).
        let noteRows = note.isEmpty ? 0 : min(note.count, max(0, boxHeight - 6))
        for (index, line) in note.prefix(noteRows).enumerated() {
            buffer.put(line, x: x0 + 2, y: y0 + boxHeight - 1 - noteRows + index, style: theme[.notice].merging(background: theme[.help].background))
        }
        let visible = max(1, boxHeight - 4 - (noteRows > 0 ? noteRows + 1 : 0))
        let top = max(0, min(picker.selected - visible + 1, templates.count - visible))
        for (offset, template) in templates[top..<min(templates.count, top + visible)].enumerated() {
            let index = top + offset
            let style = index == picker.selected ? theme[.selection] : theme[.help]
            let row = y0 + 2 + offset
            buffer.fill(x: x0 + 1, y: row, width: boxWidth - 2, height: 1, style: style)
            let label = "\(template.name) (\(template.language))"
            var used = buffer.put(TerminalText.truncate(TerminalText.sanitize(label), to: boxWidth / 2), x: x0 + 2, y: row,
                                  style: style.merging(attributes: .bold))
            if let quality = template.quality {
                // Meta's quality rating: a red one is close to being paused.
                let poor = quality.uppercased() == "RED" && index != picker.selected
                used += buffer.put(" " + TerminalText.truncate(TerminalText.sanitize(quality.uppercased()), to: 8),
                                   x: x0 + 2 + used, y: row, style: poor ? theme[.failed].merging(background: style.background) : style)
            }
            let body = (template.body ?? "").replacingOccurrences(of: "\n", with: " ")
            buffer.put(TerminalText.truncate(TerminalText.sanitize(body), to: max(0, boxWidth - used - 6)),
                       x: x0 + 4 + used, y: row, style: style)
        }
    }
}
