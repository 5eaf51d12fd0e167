import Foundation

/// A customer's downloaded audio waiting for its transcript.
public struct TranscriptJob: Sendable, Hashable {
    public var messageID: Int64
    /// The file in the media store (on this host).
    public var path: String
    /// The file's name in the media store: the same bytes sent twice are transcribed once.
    public var contentHash: String?

    public init(messageID: Int64, path: String, contentHash: String?) {
        self.messageID = messageID
        self.path = path
        self.contentHash = contentHash
    }
}

/// Why a transcript could not be made, in words for the screen.
public struct TranscriptFailure: Error, Sendable, Hashable, CustomStringConvertible {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// The voice notes' transcripts, as the transcriber keeps them (table `transcript`).
///
/// - A downloaded customer audio file is due until its transcript is done or failed; one
///   left `running` by a process that stopped is due again.
/// - A done or failed transcript is never due again.
public protocol TranscriptStore: Sendable {
    /// A number that moves whenever something may have become due, so that an idle
    /// transcriber looks again only then; nil: it looks every poll.
    var transcriptVersion: Int? { get }

    /// The customers' downloaded audio with no transcript yet, oldest first, each with a
    /// path this host can read.
    func dueTranscripts(limit: Int) async throws -> [TranscriptJob]

    /// Marks a transcript as being made (the screen says so); `at` in Unix milliseconds.
    func startTranscript(_ messageID: Int64, at: Int64) async throws

    /// Keeps what the transcriber printed, or why it failed: either way it is not run again.
    func finishTranscript(_ messageID: Int64, _ outcome: Result<String, TranscriptFailure>, at: Int64) async throws

    /// The finished transcript of another message with the same bytes, if there is one.
    func transcript(ofContentHash hash: String, besides messageID: Int64) async throws -> MediaStatus.Transcript?
}
