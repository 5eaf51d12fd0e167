import Foundation
import InboxStore
import InboxTUI
import Logging
import ServiceLifecycle

/// Transcribes the customers' voice notes in the background, in the process that holds the
/// listener lease, with the operator's `transcribe_command` (a program such as whisper.cpp's
/// command-line tool, or a script around it), and keeps each transcript in the database.
///
/// For every downloaded audio file from a customer, one at a time, it runs the program with
/// the file's path as its one argument (no shell) and keeps what it prints on standard
/// output (at most `maxOutputBytes`). A program that runs past `timeout` is killed with its
/// process group; one that exits non-zero fails with the first line it wrote to standard
/// error. Each file is transcribed once: done and failed ones are never run again, while
/// one a stopped process was working on is run again by the next.
public struct Transcriber: Service {
    public struct Configuration: Sendable {
        /// The program: a path, or a name looked up on `PATH`.
        public var command: String
        /// How long one transcript may take (`transcribe_timeout`, default 120 s).
        public var timeout: Duration
        /// Standard output kept beyond this is cut off.
        public var maxOutputBytes: Int
        /// How often it looks for new audio when nothing changed in the database.
        public var idlePoll: Duration
        /// How long it waits before looking again for a program that is not there.
        public var missingProgramPause: Duration

        public init(command: String, timeout: Duration = .seconds(120), maxOutputBytes: Int = 64 * 1024,
                    idlePoll: Duration = .seconds(1), missingProgramPause: Duration = .seconds(30)) {
            self.command = command
            self.timeout = timeout
            self.maxOutputBytes = maxOutputBytes
            self.idlePoll = idlePoll
            self.missingProgramPause = missingProgramPause
        }

        /// `120 s`, `2.5 s`: the limit as the failure reason says it.
        var timeoutInWords: String {
            let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
            return seconds == seconds.rounded() ? "\(Int(seconds)) s" : "\(seconds) s"
        }
    }

    /// What became of one voice note.
    public enum Outcome: Sendable, Hashable {
        case done(String)
        case failed(String)
        /// Not run: the program is missing (the note waits), or the service is stopping.
        case notRun(String)
    }

    let database: any TranscriptStore
    let configuration: Configuration
    let logger: Logger
    let now: @Sendable () -> Int64

    /// - Parameter now: Unix milliseconds.
    public init(database: any TranscriptStore, configuration: Configuration, logger: Logger,
                now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) }) {
        self.database = database
        self.configuration = configuration
        self.logger = logger
        self.now = now
    }

    public func run() async throws {
        try? await cancelWhenGracefulShutdown { try await transcribeUntilCancelled() }
    }

    /// Transcribes what comes due until the task is cancelled (a shared store's lease was lost).
    public func transcribeUntilCancelled() async throws {
        // Looks again only when the database changed since it last found nothing.
        var idleAt: Int?
        while !Task.isCancelled {
            let version = database.transcriptVersion
            if version == nil || version != idleAt {
                switch await runDue() {
                case .worked: continue
                case .nothingDue: idleAt = version
                case .programMissing: try await Task.sleep(for: configuration.missingProgramPause)
                }
            }
            try await Task.sleep(for: configuration.idlePoll)
        }
    }

    enum Turn { case worked, nothingDue, programMissing }

    /// Transcribes the next voice note due, if there is one.
    func runDue() async -> Turn {
        let job: TranscriptJob
        do {
            guard let next = try await database.dueTranscripts(limit: 1).first else { return .nothingDue }
            job = next
        } catch {
            logger.warning("transcripts: \(error)")
            return .nothingDue
        }
        switch await transcribe(job) {
        case .notRun(let reason) where !Task.isCancelled:
            logger.warning("voice notes wait for their transcripts: \(reason)")
            return .programMissing
        default:
            return .worked
        }
    }

    /// Transcribes one voice note and records the transcript or why there is none.
    @discardableResult
    public func transcribe(_ job: TranscriptJob) async -> Outcome {
        let outcome = await make(job)
        let record: Result<String, TranscriptFailure>
        switch outcome {
        case .done(let text): record = .success(text)
        case .failed(let reason): record = .failure(TranscriptFailure(reason))
        case .notRun: return outcome  // left as it was: run when the program is there again
        }
        do {
            try await database.finishTranscript(job.messageID, record, at: now())
        } catch {
            logger.warning("transcript of message \(job.messageID): could not record \(outcome): \(error)")
        }
        if case .failed(let reason) = outcome { logger.info("transcript of message \(job.messageID) failed: \(reason)") }
        return outcome
    }

    private func make(_ job: TranscriptJob) async -> Outcome {
        // The same bytes (a voice note forwarded again) are transcribed once.
        if let hash = job.contentHash,
           let twin = try? await database.transcript(ofContentHash: hash, besides: job.messageID), let text = twin.text {
            return .done(text)
        }
        let command = configuration.command
        guard let program = ProgramLookup.find(command, searchPath: ProcessInfo.processInfo.environment["PATH"]) else {
            return .notRun(command.contains("/") ? "transcribe_command \(command) is not an executable file"
                                                 : "transcribe_command \(command) is not on PATH")
        }
        do {
            try await database.startTranscript(job.messageID, at: now())
        } catch {
            return .notRun("the database is busy: \(error)")
        }
        let ran: ProgramRun.Outcome
        do {
            ran = try await ProgramRun.run(program.path, argument: job.path, environment: Self.environment(),
                                           timeout: configuration.timeout, maxOutput: configuration.maxOutputBytes)
        } catch {
            return .notRun("\(error)")
        }
        switch ran.ending {
        case .cancelled:
            return .notRun("stopped")
        case .timedOut:
            return .failed("took longer than \(configuration.timeoutInWords) (transcribe_timeout)")
        case .signalled(let signal):
            return .failed("\(command) was killed by signal \(signal)")
        case .exited(let status) where status != 0:
            let said = String(decoding: ran.stderr, as: UTF8.self).split(whereSeparator: \.isNewline)
                .map { $0.trimmingCharacters(in: .whitespaces) }.first { !$0.isEmpty }
            return .failed((said.map { "\($0) " } ?? "\(command) ") + "(exit status \(status))")
        case .exited:
            var text = String(decoding: ran.stdout, as: UTF8.self).replacingOccurrences(of: "\u{0}", with: "")
                .trimmingCharacters(in: .whitespacesAndNewlines)
            if ran.stdoutTruncated { text += " …" }
            return .done(text)
        }
    }

    /// The program's environment: this process's, without wabox's own settings (the
    /// access token and the app secret are none of its business).
    static func environment() -> [String: String] {
        ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("WABOX_") }
    }
}
