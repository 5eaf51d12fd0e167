import Foundation
import InboxCore
import InboxStore
import Logging
import MediaPreview
import ServiceLifecycle

/// Downloads the customers' media in the background, in the process that holds the
/// listener lease, into a folder where each file is named by the SHA-256 of its bytes.
///
/// Never on the ingest path: it queues what the listener stored (`queueNewMedia`), then
/// for each item asks the Graph API for the metadata and fetches the bytes with the same
/// token; an expired URL (401, 403, 404) gets fresh metadata once. The size and the
/// SHA-256 are checked before anything is kept. Transient failures retry with capped
/// backoff; the queue survives restarts, and a file is never downloaded twice.
public struct MediaDownloader: Service {
    public struct Configuration: Sendable {
        /// Where the files go (`media_dir`, default `media/` beside the database).
        public var directory: String
        /// Larger media are refused (`media_max_bytes`, default 100 MiB).
        public var maxBytes: Int
        /// Downloads at once.
        public var concurrency: Int
        /// Inbound media ids work for about 7 days.
        public var lifetimeSeconds: Int64
        /// Transient failures retry after `baseDelay` × 2^attempt seconds, at most `maxDelay`,
        /// and give up after `maxAttempts`.
        public var baseDelay: Double
        public var maxDelay: Double
        public var maxAttempts: Int
        /// How often it looks for new media when nothing woke it.
        public var idlePoll: Duration

        public init(directory: String, maxBytes: Int = 100 * 1024 * 1024, concurrency: Int = 3,
                    lifetimeSeconds: Int64 = 7 * 86_400, baseDelay: Double = 5, maxDelay: Double = 600,
                    maxAttempts: Int = 10, idlePoll: Duration = .seconds(1)) {
            self.directory = directory
            self.maxBytes = maxBytes
            self.concurrency = concurrency
            self.lifetimeSeconds = lifetimeSeconds
            self.baseDelay = baseDelay
            self.maxDelay = maxDelay
            self.maxAttempts = maxAttempts
            self.idlePoll = idlePoll
        }

        /// `media/` beside the database at `databasePath`.
        public static func defaultDirectory(besideDatabaseAt databasePath: String) -> String {
            URL(fileURLWithPath: databasePath).deletingLastPathComponent().appendingPathComponent("media").path
        }
    }

    /// What became of one item.
    public enum Outcome: Sendable, Hashable {
        case ready(path: String)
        case failed(String)
        case expired(String)
        case retryScheduled(at: Int64, reason: String)
    }

    let database: any MediaQueueStore
    let client: any CloudMessaging
    let configuration: Configuration
    let logger: Logger
    let now: @Sendable () -> Int64

    /// - Parameter now: Unix milliseconds.
    public init(database: any MediaQueueStore, client: any CloudMessaging, configuration: Configuration, logger: Logger,
                now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) }) {
        self.database = database
        self.client = client
        self.configuration = configuration
        self.logger = logger
        self.now = now
    }

    public func run() async throws {
        try? await cancelWhenGracefulShutdown { try await downloadUntilCancelled() }
    }

    /// Queues and downloads until the task is cancelled (a shared store's lease was lost).
    public func downloadUntilCancelled() async throws {
        var seen: Int?
        var queuedOnce = false
        while !Task.isCancelled {
            // A store that queues on its own is asked once, for what an import left.
            let version = database.messageVersion
            if version.map({ $0 != seen }) ?? !queuedOnce {
                seen = version
                queuedOnce = true
                do {
                    try await database.queueNewMedia()
                } catch {
                    logger.warning("media queue: \(error)")
                    queuedOnce = false
                }
            }
            let worked = (try? await runDue()) ?? 0
            if worked == 0 { try await Task.sleep(for: configuration.idlePoll) }
        }
    }

    /// Downloads every item due now, `concurrency` at a time; returns how many were tried.
    @discardableResult
    public func runDue() async throws -> Int {
        let due = try await database.dueMedia(at: now(), limit: configuration.concurrency * 4)
        guard !due.isEmpty else { return 0 }
        await withTaskGroup(of: Void.self) { group in
            var next = due.makeIterator()
            for _ in 0..<configuration.concurrency {
                guard let item = next.next() else { break }
                group.addTask { _ = await download(item) }
            }
            while await group.next() != nil {
                guard let item = next.next() else { continue }
                group.addTask { _ = await download(item) }
            }
        }
        return due.count
    }

    /// Downloads one item and records what became of it.
    public func download(_ item: MediaItem) async -> Outcome {
        let outcome = await fetch(item)
        // Stopping mid-download (the screen quit) is not the file's failure: nothing is
        // recorded, and the next process starts it again with its attempts intact.
        if Task.isCancelled, case .retryScheduled = outcome { return outcome }
        do {
            switch outcome {
            case .ready:
                break  // recorded by `keep`
            case .failed(let reason):
                try await database.markMedia(item.messageID, .failed, reason: reason)
            case .expired(let reason):
                try await database.markMedia(item.messageID, .expired, reason: reason)
            case .retryScheduled(let at, let reason):
                try await database.retryMedia(item.messageID, at: at, reason: reason)
            }
        } catch {
            logger.warning("media \(item.mediaID): could not record \(outcome): \(error)")
        }
        if case .ready = outcome {} else { logger.info("media \(item.mediaID): \(outcome)") }
        CloudMetrics.countDownload(outcome)
        return outcome
    }

    private func fetch(_ item: MediaItem) async -> Outcome {
        if now() / 1000 - item.sentAt > configuration.lifetimeSeconds {
            return .expired("sent more than \(configuration.lifetimeSeconds / 86_400) days ago: the Cloud API keeps media about 7 days")
        }
        do {
            if let twin = try await database.readyMedia(withMediaID: item.mediaID), let path = twin.path,
               let hash = twin.contentHash, try await database.keepsFile(of: twin) {
                try await database.markMediaReady(item.messageID, contentHash: hash, path: path,
                                                  fileSize: twin.fileSize ?? 0, mimeType: twin.mimeType,
                                                  durationMilliseconds: twin.durationMilliseconds)
                return .ready(path: path)
            }
        } catch {
            return retry(item, "the database is busy: \(error)")
        }
        var refetched = false
        while true {
            let info: MediaInfo
            do {
                info = try await client.mediaInfo(item.mediaID)
            } catch {
                return classify(error, item, asking: "the media's details")
            }
            if let size = info.fileSize, size > configuration.maxBytes {
                return .failed("too large: \(size) bytes, over the limit of \(configuration.maxBytes) (media_max_bytes)")
            }
            let bytes: Data
            do {
                bytes = try await client.downloadMedia(info, maxBytes: configuration.maxBytes)
            } catch .http(let status, _) where [401, 403, 404].contains(status) && !refetched {
                // The URL lives about 5 minutes: fresh metadata gives a fresh one, once.
                refetched = true
                continue
            } catch .api(let error) where [401, 403, 404].contains(error.httpStatus) && !refetched {
                refetched = true
                continue
            } catch .tooLarge {
                return .failed("too large: over the limit of \(configuration.maxBytes) bytes (media_max_bytes)")
            } catch {
                return classify(error, item, asking: "the file")
            }
            return await keep(bytes, info: info, item: item)
        }
    }

    /// Checks the digest and keeps the bytes under their hash.
    private func keep(_ bytes: Data, info: MediaInfo, item: MediaItem) async -> Outcome {
        if bytes.count > configuration.maxBytes {
            return .failed("too large: over the limit of \(configuration.maxBytes) bytes (media_max_bytes)")
        }
        let expected = [item.sha256, info.sha256].compactMap { $0 }.filter { !$0.isEmpty }
        if expected.isEmpty {
            return .failed("no SHA-256 to check the file against")
        }
        guard await offThePool({ expected.allSatisfy { MediaDigest.matches(bytes, expected: $0) } }) else {
            return .failed("hash mismatch")
        }
        let directory = configuration.directory
        let isAudio = item.kind == .audio || item.kind == .voice
        let isPhoto = item.kind == .image
        let stored = await offThePool { () -> Result<(hash: String, path: String, duration: Int64?), any Error> in
            let hash = MediaDigest.hex(of: bytes)
            let path = (directory as NSString).appendingPathComponent(hash)
            // Voice notes are Ogg Opus: their length is read from the file once, here.
            let duration = isAudio ? OggDuration.milliseconds(of: bytes) : nil
            return Result { try MediaFolder.store(bytes, at: path, folder: directory) }.map { (hash, path, duration) }
        }
        if case .success(let kept) = stored, isPhoto {
            // A large photo's thumbnail, made once here rather than by every screen that
            // opens the thread; without it (not an image we read) a screen decodes the file.
            _ = await offThePool { PreviewThumbnail.write(forImageAt: kept.path, permissions: MediaFolder.fileMode(directory)) }
        }
        let hash: String, path: String, duration: Int64?
        switch stored {
        case .success(let kept): (hash, path, duration) = kept
        case .failure(let error): return retry(item, "cannot write to \(directory): \(error.localizedDescription)")
        }
        do {
            try await database.shareMediaFile(contentHash: hash, bytes: bytes)
        } catch {
            return retry(item, "could not keep the file in the shared inbox: \(error)")
        }
        do {
            try await database.markMediaReady(item.messageID, contentHash: hash, path: path, fileSize: Int64(bytes.count),
                                              mimeType: info.mimeType ?? item.mimeType, durationMilliseconds: duration)
        } catch {
            return retry(item, "the database is busy: \(error)")
        }
        return .ready(path: path)
    }

    private func classify(_ error: CloudFailure, _ item: MediaItem, asking what: String) -> Outcome {
        switch error {
        case .api(let api) where api.httpStatus == 404 || api.code == 100:
            return .expired("the Cloud API no longer has this media (error \(api.code))")
        case .api(let api) where api.code == 190:
            return retry(item, "the access token was refused (error 190): set a valid WABOX_ACCESS_TOKEN", keepTrying: true)
        case .api(let api) where api.code == 4 || api.code == 80007 || api.code == 130429 || api.httpStatus >= 500:
            return retry(item, "the Cloud API is busy (error \(api.code))")
        case .api(let api):
            return .failed("the Cloud API refused \(what): \(api.description)")
        case .http(let status, _) where status == 429 || status >= 500:
            return retry(item, "the Cloud API answered HTTP \(status)")
        case .http(let status, _) where status == 404:
            return .expired("the Cloud API no longer has this media (HTTP 404)")
        case .http(let status, _):
            return .failed("the Cloud API answered HTTP \(status) for \(what)")
        case .network(let failure):
            return retry(item, "\(failure)")
        case .invalidResponse(let reason):
            return retry(item, "unexpected answer for \(what): \(reason)")
        case .tooLarge:
            return .failed("too large: over the limit of \(configuration.maxBytes) bytes (media_max_bytes)")
        }
    }

    /// Tries again later with capped exponential backoff; gives up after `maxAttempts`
    /// unless the failure is the operator's to fix (`keepTrying`).
    private func retry(_ item: MediaItem, _ reason: String, keepTrying: Bool = false) -> Outcome {
        if !keepTrying, item.attempts + 1 >= configuration.maxAttempts {
            return .failed("gave up after \(item.attempts + 1) attempts: \(reason)")
        }
        let delay = min(configuration.maxDelay, configuration.baseDelay * pow(2, Double(min(item.attempts, 20))))
        return .retryScheduled(at: now() + Int64(delay * 1000), reason: reason)
    }
}

/// The media folder: files named by their hash, written whole or not at all.
enum MediaFolder {
    /// Writes `bytes` to `path` through a temporary file and a rename, so that a reader
    /// (or a crash) never sees half a file. The folder is made readable by those who may
    /// read the database beside it.
    static func store(_ bytes: Data, at path: String, folder: String) throws {
        let manager = FileManager.default
        if !manager.fileExists(atPath: folder) {
            try manager.createDirectory(atPath: folder, withIntermediateDirectories: true,
                                        attributes: [.posixPermissions: folderMode(folder)])
        }
        // The same bytes, by their name; a file cut short (a crash of an older version, a
        // full disk) is written again.
        let existing = (try? manager.attributesOfItem(atPath: path))?[.size] as? NSNumber
        if existing?.intValue == bytes.count { return }
        let temporary = path + ".part-\(UUID().uuidString.prefix(8))"
        guard manager.createFile(atPath: temporary, contents: nil, attributes: [.posixPermissions: fileMode(folder)]),
              let handle = FileHandle(forWritingAtPath: temporary) else {
            throw CocoaError(.fileWriteUnknown)
        }
        do {
            try handle.write(contentsOf: bytes)
            // On disk before it takes its name: after a power loss the name never holds half a file.
            try handle.synchronize()
            try handle.close()
        } catch {
            try? handle.close()
            try? manager.removeItem(atPath: temporary)
            throw error
        }
        if rename(temporary, path) != 0 {
            try? manager.removeItem(atPath: temporary)
            throw CocoaError(.fileWriteUnknown)
        }
    }

    /// Beside a database in a folder its group may write (a shared inbox), the media are
    /// the group's too; anywhere else the owner's alone.
    private static func isShared(_ folder: String) -> Bool {
        let parent = (folder as NSString).deletingLastPathComponent
        let mode = ((try? FileManager.default.attributesOfItem(atPath: parent.isEmpty ? "." : parent))?[.posixPermissions]
            as? NSNumber)?.intValue ?? 0
        return mode & 0o070 == 0o070
    }

    static func folderMode(_ folder: String) -> Int { isShared(folder) ? 0o2770 : 0o700 }
    static func fileMode(_ folder: String) -> Int { isShared(folder) ? 0o640 : 0o600 }
}

/// A file an agent sends, made ready for the outbox: checked against the Cloud API's type
/// and size limits, then copied into the media store under its hash, so that the outbox
/// survives the original being moved or changed.
public struct OutgoingFile: Sendable, Hashable {
    public var file: OutboundFile
    public var kind: MediaAttachment.Kind
    /// Lowercase hex SHA-256 of the bytes.
    public var sha256: String

    public struct Refusal: Error, CustomStringConvertible {
        public var description: String
    }

    /// The longest caption WhatsApp shows under a file.
    public static let maxCaptionCharacters = 1024

    /// Checks `path` (and `caption`, which audio and stickers cannot carry) against the
    /// Cloud API's limits before reading more than its size, then copies it into the store.
    ///
    /// - Throws: `Refusal` saying which limit the file breaks, or why it cannot be read.
    public static func prepare(path: String, mediaDirectory: String, caption: String? = nil) throws(Refusal) -> OutgoingFile {
        let name = (path as NSString).lastPathComponent
        guard let mimeType = OutgoingMediaLimits.mimeType(forFileNamed: name),
              let rule = OutgoingMediaLimits.rule(for: mimeType) else {
            throw Refusal(description: OutgoingMediaLimits.problem(mimeType: nil, size: 0, name: name)!)
        }
        if let caption, !caption.isEmpty {
            if rule.kind == .audio || rule.kind == .sticker {
                throw Refusal(description: "WhatsApp shows no caption under \(rule.kind == .audio ? "audio" : "a sticker"): send \(name) without one and the words as a message of their own")
            }
            if caption.count > maxCaptionCharacters {
                throw Refusal(description: "the caption has \(caption.count) characters: WhatsApp shows at most \(maxCaptionCharacters) under a file")
            }
        }
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
            throw Refusal(description: "\(path) does not exist: check the path (Tab completes it in the compose line)")
        }
        if isFolder.boolValue { throw Refusal(description: "\(path) is a folder: pick a file in it") }
        // The size first: a file far over the limit is refused without being read.
        let size = ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
        if size > rule.maxBytes, let problem = OutgoingMediaLimits.problem(mimeType: mimeType, size: size, name: name) {
            throw Refusal(description: problem)
        }
        guard let bytes = FileManager.default.contents(atPath: path) else {
            throw Refusal(description: "cannot read \(path): check that you may read it")
        }
        if let problem = OutgoingMediaLimits.problem(mimeType: mimeType, size: bytes.count, name: name) {
            throw Refusal(description: problem)
        }
        let hash = MediaDigest.hex(of: bytes)
        let kept = (mediaDirectory as NSString).appendingPathComponent(hash)
        do {
            try MediaFolder.store(bytes, at: kept, folder: mediaDirectory)
        } catch {
            throw Refusal(description: "cannot copy \(name) into the media store \(mediaDirectory): \(error.localizedDescription)")
        }
        // The customer sees the name of a document; it is data, never a path here.
        return OutgoingFile(file: OutboundFile(path: kept, mimeType: mimeType, filename: name, size: Int64(bytes.count)),
                            kind: rule.kind, sha256: hash)
    }

    /// `prepare`, off the cooperative pool (it reads and hashes the whole file).
    public static func prepareOffThePool(path: String, mediaDirectory: String, caption: String?) async throws(Refusal)
        -> OutgoingFile {
        try await offThePool { () -> Result<OutgoingFile, Refusal> in
            Result { () throws(Refusal) in try prepare(path: path, mediaDirectory: mediaDirectory, caption: caption) }
        }.get()
    }

    /// Checks and copies the file at `path` (off the cooperative pool), then writes it to
    /// the outbox of `conversation` with `caption` under it: what `wabox send --file` and
    /// Ctrl-O in the compose line both do. The sender uploads and sends it from there.
    ///
    /// - Throws: `Refusal` for a file WhatsApp would not take; the store's errors.
    @discardableResult
    public static func enqueue(path: String, mediaDirectory: String, in conversation: ConversationID, caption: String?,
                               replyTo: MessageID?, localID: String, at timestamp: Int64,
                               database: InboxDatabase) async throws -> StoredMessage {
        let caption = caption.flatMap { $0.isEmpty ? nil : $0 }
        let outgoing = try await prepareOffThePool(path: path, mediaDirectory: mediaDirectory, caption: caption)
        return try await database.enqueueFile(in: conversation, file: outgoing.file, kind: outgoing.kind,
                                              sha256: outgoing.sha256, caption: caption, replyTo: replyTo,
                                              localID: localID, at: timestamp)
    }
}
