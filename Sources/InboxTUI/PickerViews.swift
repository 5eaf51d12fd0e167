import InboxCore
import InboxStore

// Overlays that pick something: the template picker.

extension Renderer {
    mutating func templateOverlay(_ picker: TemplatePicker) {
        let boxWidth = min(state.width - 2, 70)
        let rows = picker.templates.map { max(1, $0.count) } ?? 1
        let boxHeight = min(state.height - 2, rows + 5)
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
        let visible = max(1, boxHeight - 4)
        let top = max(0, min(picker.selected - visible + 1, templates.count - visible))
        for (offset, template) in templates[top..<min(templates.count, top + visible)].enumerated() {
            let index = top + offset
            let style = index == picker.selected ? theme[.selection] : theme[.help]
            let row = y0 + 2 + offset
            buffer.fill(x: x0 + 1, y: row, width: boxWidth - 2, height: 1, style: style)
            let label = "\(template.name) (\(template.language))"
            let used = buffer.put(TerminalText.truncate(TerminalText.sanitize(label), to: boxWidth / 2), x: x0 + 2, y: row,
                                  style: style.merging(attributes: .bold))
            let body = (template.body ?? "").replacingOccurrences(of: "\n", with: " ")
            buffer.put(TerminalText.truncate(TerminalText.sanitize(body), to: max(0, boxWidth - used - 6)),
                       x: x0 + 4 + used, y: row, style: style)
        }
    }
}
