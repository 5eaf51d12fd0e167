import Dispatch
import InboxCore
import InboxStore
import MediaPreview
import Synchronization

// Inline pictures of photos and stickers: which the reducer asks for, and the runner's
// side (a cache, decoding on a queue of its own). The drawing is in PreviewView.swift.

/// Where a picture for the open thread stands.
public enum PreviewState: Sendable, Equatable {
    /// Asked for; a placeholder line shows meanwhile.
    case making
    case ready(ImagePreview)
    /// No picture, and why in words.
    case failed(String)
}

/// The size a thread's pictures are made at, from the screen's size: the reducer asks for
/// exactly what the view then looks up.
enum PreviewLayout {
    /// Rows a picture may take: a few, fewer on a short terminal.
    static func maxRows(screenHeight: Int) -> Int { min(8, max(2, (screenHeight - 8) / 2)) }

    /// The width of the thread pane (see `Renderer.render`).
    static func threadWidth(_ state: AppState) -> Int {
        state.isNarrow ? state.width : state.width - Renderer.listWidth(screenWidth: state.width) - 1
    }

    /// The picture `message` gets, if it is a downloaded photo or sticker.
    static func request(for message: StoredMessage, in state: AppState) -> PreviewRequest? {
        guard case .media(let attachment) = message.content, attachment.kind == .image || attachment.kind == .sticker,
              let media = message.media, media.state == .ready, let path = media.path else { return nil }
        return PreviewRequest(path: path, maxColumns: Renderer.bubbleWidth(threadWidth: threadWidth(state)),
                              maxRows: maxRows(screenHeight: state.height), colors: state.previewColors)
    }
}

// MARK: - Reducer

/// Asks for the pictures the open thread shows and has not got yet (newest first: they are
/// the ones on screen), and forgets those of other threads and sizes.
func wantPreviews(_ state: inout AppState) -> [Effect] {
    let wanted = state.thread.reversed().compactMap { PreviewLayout.request(for: $0, in: state) }
    let keep = Set(wanted)
    state.previews = state.previews.filter { keep.contains($0.key) }
    var effects: [Effect] = []
    for request in wanted where state.previews[request] == nil {
        state.previews[request] = .making
        effects.append(.makePreview(request))
    }
    return effects
}

func previewMade(_ request: PreviewRequest, _ result: Result<ImagePreview, PreviewFailure>, _ state: inout AppState) {
    // A picture of a thread or a size no longer shown is not kept (the runner's cache has it).
    guard state.previews[request] != nil else { return }
    switch result {
    case .success(let preview): state.previews[request] = .ready(preview)
    case .failure(let failure): state.previews[request] = .failed(failure.description)
    }
}

// MARK: - Runner

/// Makes pictures off the main thread and off the cooperative pool, one at a time on a
/// queue of its own (a 12-megapixel photo takes a core for tens of milliseconds), and keeps
/// the latest ones so that a redraw, a reload or coming back to a thread costs nothing.
final class PreviewMaker: Sendable {
    /// Pictures kept: a few threads' worth.
    static let capacity = 64

    private struct Store {
        var results: [PreviewRequest: Result<ImagePreview, PreviewFailure>] = [:]
        /// Least recently used first.
        var order: [PreviewRequest] = []
        var inFlight: Set<PreviewRequest> = []
        var decodes = 0
    }

    private let store = Mutex(Store())
    private let queue = DispatchQueue(label: "wabox.previews", qos: .userInitiated)
    private let make: @Sendable (PreviewRequest) -> Result<ImagePreview, PreviewFailure>

    init(make: @escaping @Sendable (PreviewRequest) -> Result<ImagePreview, PreviewFailure> = ImagePreviewer.make) {
        self.make = make
    }

    /// How many pictures were made (not found in the cache) so far.
    var decodes: Int { store.withLock { $0.decodes } }

    /// Whether a picture is being made (or was made and not handed over yet): the screen
    /// then looks for it more often.
    var isBusy: Bool { store.withLock { !$0.inFlight.isEmpty } }

    /// The picture `request` asks for: at once when kept (returned), else made on the queue
    /// and handed to `done` there. Asked again while being made, it is made once.
    func preview(_ request: PreviewRequest,
                 done: @escaping @Sendable (Result<ImagePreview, PreviewFailure>) -> Void) -> Result<ImagePreview, PreviewFailure>? {
        let kept: Result<ImagePreview, PreviewFailure>? = store.withLock { store in
            if let result = store.results[request] {
                store.order.removeAll { $0 == request }
                store.order.append(request)
                return result
            }
            return nil
        }
        if let kept { return kept }
        guard store.withLock({ $0.inFlight.insert(request).inserted }) else { return nil }
        let make = self.make
        queue.async { [self] in
            let result = make(request)
            store.withLock { store in
                store.decodes += 1
                store.results[request] = result
                store.order.append(request)
                while store.order.count > Self.capacity {
                    store.results[store.order.removeFirst()] = nil
                }
            }
            // Handed over before it stops counting as busy: the screen, which waits briefly
            // while something is busy or waiting for it, never misses the result.
            done(result)
            store.withLock { _ = $0.inFlight.remove(request) }
        }
        return nil
    }
}

extension InboxApp {
    /// How often the loop looks for a finished picture while one is being made, in ms.
    static let previewPollMilliseconds = 5

    func makePreview(_ request: PreviewRequest) {
        let completed = self.completed
        if let kept = previews.preview(request, done: { completed.post(.previewMade(request, $0)) }) {
            dispatch(.previewMade(request, kept))
        }
    }
}
