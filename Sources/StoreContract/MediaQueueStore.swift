import Foundation
import InboxCore

/// An inbound media item in the download queue.
public struct MediaItem: Sendable, Hashable {
    public var messageID: Int64
    public var mediaID: String
    public var kind: MediaAttachment.Kind
    public var mimeType: String?
    public var sha256: String?
    public var filename: String?
    public var state: MediaState
    public var reason: String?
    public var fileSize: Int64?
    /// The name of the file in the media folder once ready.
    public var contentHash: String?
    /// The kept file, once ready (on the host that downloaded it).
    public var path: String?
    public var sentAt: Int64
    public var attempts: Int
    public var nextAttemptAt: Int64
    /// How long it plays (audio), once downloaded, when its format says.
    public var durationMilliseconds: Int64?

    public init(messageID: Int64, mediaID: String, kind: MediaAttachment.Kind, mimeType: String? = nil,
                sha256: String? = nil, filename: String? = nil, state: MediaState = .pending, reason: String? = nil,
                fileSize: Int64? = nil, contentHash: String? = nil, path: String? = nil, sentAt: Int64,
                attempts: Int = 0, nextAttemptAt: Int64 = 0, durationMilliseconds: Int64? = nil) {
        self.messageID = messageID
        self.mediaID = mediaID
        self.kind = kind
        self.mimeType = mimeType
        self.sha256 = sha256
        self.filename = filename
        self.state = state
        self.reason = reason
        self.fileSize = fileSize
        self.contentHash = contentHash
        self.path = path
        self.sentAt = sentAt
        self.attempts = attempts
        self.nextAttemptAt = nextAttemptAt
        self.durationMilliseconds = durationMilliseconds
    }
}

/// The durable download queue of inbound media, as the media downloader uses it.
///
/// - Every inbound media message gets one queue row, off the acknowledgement path
///   (`queueNewMedia`, or the store's applier).
/// - An item is `pending` until it is `ready`, `failed` or `expired`; only pending items
///   whose next attempt is due are handed out.
/// - A store that several hosts share keeps the bytes themselves too (`shareMediaFile`),
///   so that a screen on any host can show the photo the downloader fetched on another.
public protocol MediaQueueStore: Sendable {
    /// A number that moves whenever messages may have been added, so that the downloader
    /// queues only then; nil when the store queues on its own (PostgreSQL's applier does,
    /// in each batch's transaction).
    var messageVersion: Int? { get }

    /// Adds a queue row for every inbound media message stored since the last call; returns
    /// how many were added.
    @discardableResult
    func queueNewMedia() async throws -> Int

    /// Pending items whose next attempt is due at `now` (Unix milliseconds), oldest first.
    func dueMedia(at now: Int64, limit: Int) async throws -> [MediaItem]

    /// A ready item with the same media id, whose file can serve another message.
    func readyMedia(withMediaID mediaID: String) async throws -> MediaItem?

    /// Whether the file of a ready item is still kept (on this host, or in the shared store).
    func keepsFile(of item: MediaItem) async throws -> Bool

    /// The bytes are kept at `path`, named by `contentHash`: the item is ready.
    func markMediaReady(_ messageID: Int64, contentHash: String, path: String, fileSize: Int64,
                        mimeType: String?, durationMilliseconds: Int64?) async throws

    /// Given up (`failed`) or gone (`expired`), with the reason in plain words.
    func markMedia(_ messageID: Int64, _ state: MediaState, reason: String) async throws

    /// A transient failure: try again at `at` (Unix milliseconds); `reason` shows meanwhile.
    func retryMedia(_ messageID: Int64, at: Int64, reason: String) async throws

    /// Keeps `bytes` (named `contentHash`) where every host of the inbox can read them; a
    /// store on one host does nothing (its media folder is beside the database).
    func shareMediaFile(contentHash: String, bytes: Data) async throws
}

extension MediaQueueStore {
    public func keepsFile(of item: MediaItem) async throws -> Bool {
        item.path.map { FileManager.default.fileExists(atPath: $0) } ?? false
    }

    public func shareMediaFile(contentHash: String, bytes: Data) async throws {}
}
