import InboxCore
import InboxStore
import MediaPreview

// A photo's or sticker's picture inside its bubble: chafa's cells, run by run, in their own
// colours; or one line of text where colours cannot show.

extension Renderer {
    /// The lines of `message`'s picture: none when it is not a downloaded photo or sticker.
    func pictureLines(for message: StoredMessage) -> [Line] {
        guard let request = PreviewLayout.request(for: message, in: state),
              case .media(let attachment) = message.content else { return [] }
        let what = attachment.kind == .sticker ? "sticker" : "photo"
        let dot = state.asciiOnly ? "-" : "·"
        switch state.previews[request] {
        case nil, .making?:
            return [Line(segments: [Segment(text: "[\(what) \(dot) drawing\(state.asciiOnly ? "..." : "…")]", style: theme[.notice])])]
        case .failed(let reason)?:
            let bubble = Renderer.bubbleWidth(threadWidth: PreviewLayout.threadWidth(state))
            return TerminalText.wrap("[\(what): " + TerminalText.sanitize(reason) + "]", to: bubble).map {
                Line(segments: [Segment(text: $0, style: theme[.notice])])
            }
        case .ready(let preview)?:
            guard preview.hasPicture else {
                let size = "\(preview.pixelWidth)\(state.asciiOnly ? "x" : "×")\(preview.pixelHeight)"
                return [Line(segments: [Segment(text: "[\(what) \(size) \(dot) o opens it]", style: theme[.notice])])]
            }
            return (0..<preview.rows).map { row in
                let segments = preview.runs(inRow: row).map { run in
                    Segment(text: run.text, style: Style(foreground: ThemeColor(run.foreground),
                                                         background: ThemeColor(run.background)))
                }
                return Line(segments: segments, keepsColours: true)
            }
        }
    }
}

extension ThemeColor {
    init(_ color: PreviewColor) {
        switch color {
        case .terminalDefault: self = .terminalDefault
        case .index(let index): self = .index(index)
        }
    }
}
