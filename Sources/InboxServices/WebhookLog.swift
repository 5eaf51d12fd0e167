import Foundation
import InboxCore
import InboxStore
import Logging
import PostgresStore
import Synchronization

/// What `wabox journal`, `wabox journal show` and `wabox replay` do, for the executable to call.
public enum WebhookLog {
    public enum Format: String, CaseIterable, Sendable {
        /// Aligned columns for a terminal.
        case text
        /// One JSON object per body.
        case jsonl
    }

    public typealias Failure = CommandOutput.Failure

    // MARK: - wabox journal

    /// Lists the stored bodies the filter selects, oldest first.
    ///
    /// - Parameters:
    ///   - since: a duration back from `now` (`30d`, `12h`, `90m`).
    ///   - contact: any identifier `wabox export --contact` takes.
    public static func list(databasePath path: String, since: String?, contact: String?, outcomes: [JournalOutcome],
                            format: Format, now: Int64 = Int64(Date().timeIntervalSince1970),
                            timeZone: TimeZone = .current) throws(Failure) {
        let cutoff = try since.map { text throws(Failure) in now - (try seconds(since: text)) }
        let database = try openDatabase(path)
        try finish(runBlocking {
            try await list(database, filter: JournalLogFilter(receivedSince: cutoff, contact: contact, outcomes: Set(outcomes)),
                           format: format, timeZone: timeZone)
        })
    }

    /// The same on a shared PostgreSQL inbox (read only).
    public static func list(location: PostgresLocation, since: String?, contact: String?, outcomes: [JournalOutcome],
                            format: Format, now: Int64 = Int64(Date().timeIntervalSince1970),
                            timeZone: TimeZone = .current) throws(Failure) {
        let cutoff = try since.map { text throws(Failure) in now - (try seconds(since: text)) }
        try finish(runBlocking {
            try await reading(location) { store in
                try await list(store, filter: JournalLogFilter(receivedSince: cutoff, contact: contact, outcomes: Set(outcomes)),
                               format: format, timeZone: timeZone)
            }
        })
    }

    private static func list(_ store: any JournalLogStore, filter: JournalLogFilter, format: Format,
                             timeZone: TimeZone) async throws {
        var output = BufferedOutput()
        let idWidth = max(2, String(try await store.newestJournalID()).count)
        let time = TimeFormat(timeZone: timeZone)
        if format == .text {
            output.write(Data((pad("ID", idWidth, right: true) + "  " + pad("RECEIVED (\(time.zoneName))", 19) + "  "
                + pad("BYTES", 7, right: true) + "  " + pad("OUTCOME", 11) + "  EVENTS\n").utf8))
        }
        let count = try await store.journalLog(filter) { entry in
            let line = format == .jsonl ? entry.jsonLine : textLine(entry, idWidth: idWidth, time: time)
            output.write(Data((line + "\n").utf8))
        }
        if count == 0, format == .text {
            output.write(Data("(no webhook body matches; applied bodies are kept for journal_retention, 30 days unless set)\n".utf8))
        }
        output.flush()
    }

    /// A PostgreSQL inbox opened for reading, its connection checked first.
    private static func reading<T: Sendable>(_ location: PostgresLocation,
                                             _ body: @escaping @Sendable (PostgresStore) async throws -> T) async throws -> T {
        let logger = Logger(label: "wabox.postgres", factory: { _ in SwiftLogNoOpLogHandler() })
        try await PostgresStore.probe(location, timeout: .seconds(10), logger: logger)
        return try await PostgresStore.reading(location, logger: logger, body)
    }

    /// The command's failure, in its words, from what a blocking run gave.
    private static func finish<T>(_ result: Result<T, any Error>) throws(Failure) -> T {
        switch result {
        case .success(let value): return value
        case .failure(let failure as Failure): throw failure
        case .failure(let error): throw Failure(description: String(describing: error))
        }
    }

    /// One body as a row of aligned columns; everything from the body sanitised.
    static func textLine(_ entry: JournalLogEntry, idWidth: Int, time: TimeFormat) -> String {
        let open = entry.deadLetters.filter { $0.replayedAt == nil }
        var events = entry.problem.map { "undecodable: \($0)" } ?? entry.events.description
        if let first = open.first, first.path == nil, first.reason == entry.problem {
            events = "undecodable · dead letter (whole body): \(first.reason)"
        } else if let first = open.first {
            events += " · dead letter \(first.path.map { "at \($0)" } ?? "(whole body)"): \(first.reason)"
            if open.count > 1 { events += " (+\(open.count - 1) more: --format jsonl lists them)" }
        } else if !entry.deadLetters.isEmpty {
            events += " · dead letter\(entry.deadLetters.count == 1 ? "" : "s") replayed"
        }
        return pad(String(entry.id), idWidth, right: true) + "  " + time.string(entry.receivedAt) + "  "
            + pad(String(entry.size), 7, right: true) + "  " + pad(entry.outcome.rawValue, 11) + "  "
            + TerminalText.sanitize(events)
    }

    /// `text` padded with spaces to `width` terminal cells.
    static func pad(_ text: String, _ width: Int, right: Bool = false) -> String {
        let fill = String(repeating: " ", count: max(0, width - TerminalText.width(of: text)))
        return right ? fill + text : text + fill
    }

    /// `yyyy-MM-dd HH:mm:ss` in a time zone.
    struct TimeFormat {
        let formatter: DateFormatter
        let zoneName: String

        init(timeZone: TimeZone) {
            formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = timeZone
            formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
            zoneName = timeZone.abbreviation() ?? timeZone.identifier
        }

        func string(_ timestamp: Int64) -> String {
            formatter.string(from: Date(timeIntervalSince1970: TimeInterval(timestamp)))
        }
    }

    // MARK: - wabox journal show

    /// Prints one body pretty-printed and sanitised; with `rawPath`, writes its exact bytes
    /// there instead (`-`: standard output, unless that is a terminal). An existing file is
    /// overwritten only with `force`.
    public static func show(databasePath path: String, id: Int64, rawPath: String?, force: Bool,
                            timeZone: TimeZone = .current) throws(Failure) {
        let database = try openDatabase(path)
        let lookup = try finish(runBlocking { try await database.journalBody(id: id) })
        try show(lookup, id: id, rawPath: rawPath, force: force, timeZone: timeZone)
    }

    /// The same on a shared PostgreSQL inbox (read only).
    public static func show(location: PostgresLocation, id: Int64, rawPath: String?, force: Bool,
                            timeZone: TimeZone = .current) throws(Failure) {
        let lookup = try finish(runBlocking { try await reading(location) { try await $0.journalBody(id: id) } })
        try show(lookup, id: id, rawPath: rawPath, force: force, timeZone: timeZone)
    }

    private static func show(_ lookup: JournalBodyLookup, id: Int64, rawPath: String?, force: Bool,
                             timeZone: TimeZone) throws(Failure) {
        let webhook: RawWebhook
        switch lookup {
        case .found(let found): webhook = found
        case .pruned:
            throw Failure(description: "webhook #\(id) is no longer in the journal: applied bodies are pruned after journal_retention (30 days unless set)")
        case .neverJournaled:
            throw Failure(description: "no webhook #\(id) was ever journaled: `wabox journal` lists the ids")
        }
        guard let rawPath else {
            let time = TimeFormat(timeZone: timeZone)
            var text = "webhook #\(id) · received \(time.string(webhook.receivedAt)) \(time.zoneName) · \(webhook.body.count) bytes\n"
            for line in PrettyJSON.lines(webhook.body) { text += line + "\n" }
            FileHandle.standardOutput.write(Data(text.utf8))
            return
        }
        if rawPath == "-" {
            guard isatty(STDOUT_FILENO) == 0 else {
                throw Failure(description: "--raw - would write the body's exact bytes (control characters included) to the terminal: redirect standard output (> body.json), or give --raw FILE")
            }
            FileHandle.standardOutput.write(webhook.body)
            return
        }
        try write(webhook.body, to: rawPath, force: force)
        print("wrote webhook #\(id) (\(webhook.body.count) bytes, exactly as received) to \(TerminalText.sanitize(rawPath))")
    }

    /// Writes `bytes` to a new file readable by its owner only (a body holds customers'
    /// messages); an existing file only with `force`.
    static func write(_ bytes: Data, to path: String, force: Bool) throws(Failure) {
        let shown = TerminalText.sanitize(path)
        let descriptor = open(path, O_WRONLY | O_CREAT | (force ? O_TRUNC : O_EXCL) | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            let reason = String(cString: strerror(errno))
            if errno == EEXIST {
                throw Failure(description: "\(shown) exists: give another path, or --force to overwrite it")
            }
            throw Failure(description: "cannot write \(shown): \(reason)")
        }
        let handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        do {
            try handle.write(contentsOf: bytes)
            try handle.synchronize()
        } catch {
            throw Failure(description: "cannot write \(shown): \(error.localizedDescription)")
        }
    }

    // MARK: - wabox replay

    /// Applies stored bodies again with this release's decoder and prints what changed.
    /// Makes the inbox current first, as `export` does; safe while `wabox serve` runs.
    /// Fails (after printing) when an id asked for is not in the journal or a body failed.
    public static func replay(databasePath path: String, deadLetters: Bool, since: String?, ids: [Int64],
                              now: Int64 = Int64(Date().timeIntervalSince1970)) throws(Failure) {
        let selection = try replaySelection(deadLetters: deadLetters, since: since, ids: ids, now: now)
        let database = try openDatabase(path)
        let report: ReplayReport
        do {
            _ = try CurrentInbox.catchUp(database)
            var told = ContinuousClock.now
            report = try database.replay(selection, now: now) { done, total in
                guard ContinuousClock.now - told >= .seconds(5) else { return }
                told = .now
                tellProgress(done, total)
            }
        } catch {
            throw Failure(description: String(describing: error))
        }
        try printReport(report)
    }

    /// The same on a shared PostgreSQL inbox, beside the running listeners: bodies their
    /// applier has not reached yet are left to it.
    public static func replay(location: PostgresLocation, deadLetters: Bool, since: String?, ids: [Int64],
                              now: Int64 = Int64(Date().timeIntervalSince1970)) throws(Failure) {
        let selection = try replaySelection(deadLetters: deadLetters, since: since, ids: ids, now: now)
        let report = try finish(runBlocking {
            let logger = Logger(label: "wabox.postgres", factory: { _ in SwiftLogNoOpLogHandler() })
            try await PostgresStore.probe(location, timeout: .seconds(10), logger: logger)
            return try await PostgresStore.withStore(location, logger: logger, maximumConnections: 2) { store in
                let told = Mutex(ContinuousClock.now)
                return try await store.replay(selection, now: now) { done, total in
                    let due = told.withLock { last in
                        guard ContinuousClock.now - last >= .seconds(5) else { return false }
                        last = .now
                        return true
                    }
                    if due { tellProgress(done, total) }
                }
            }
        })
        try printReport(report)
    }

    private static func replaySelection(deadLetters: Bool, since: String?, ids: [Int64],
                                        now: Int64) throws(Failure) -> ReplaySelection {
        let chosen = (deadLetters ? 1 : 0) + (since == nil ? 0 : 1) + (ids.isEmpty ? 0 : 1)
        guard chosen == 1 else {
            throw Failure(description: "say which bodies to replay with one of --dead-letters, --since DURATION (30d, 12h) or --id ID…")
        }
        if let since { return .receivedSince(now - (try seconds(since: since))) }
        return deadLetters ? .deadLetters : .ids(ids)
    }

    private static func tellProgress(_ done: Int, _ total: Int) {
        FileHandle.standardError.write(Data("wabox: replayed \(done) of \(total) webhook bodies\n".utf8))
    }

    /// What the replay changed, a line each; fails when a body asked for was missing or failed.
    private static func printReport(_ report: ReplayReport) throws(Failure) {
        var lines = [report.summary]
        for id in report.missing {
            lines.append("webhook #\(id) is not in the journal: pruned after journal_retention, or never journaled (`wabox journal` lists the ids)")
        }
        for id in report.notApplied {
            lines.append("webhook #\(id) was left alone: not applied yet, the applier takes it in order")
        }
        for failure in report.failures {
            lines.append("webhook #\(failure.id) failed again: \(failure.reason)")
        }
        if report.deadLettersWithoutBody > 0 {
            lines.append("\(report.deadLettersWithoutBody) dead letter(s) have no stored body (kept before wabox journaled bodies): nothing to replay them from")
        }
        if report.messagesWithoutBody > 0 {
            lines.append("\(report.messagesWithoutBody) unreadable message(s) were stored before messages named their webhook: `wabox replay --since DURATION` reaches their bodies while the journal holds them")
        }
        print(lines.map { TerminalText.sanitize($0) }.joined(separator: "\n"))
        if !report.failures.isEmpty || !report.missing.isEmpty {
            throw Failure(description: "some webhooks were not replayed (see above)")
        }
    }

    // MARK: - Pieces

    static func seconds(since text: String) throws(Failure) -> Int64 {
        guard let seconds = JournalRetention.seconds(in: text), seconds > 0 else {
            throw Failure(description: "--since \"\(TerminalText.sanitize(text))\" is not a duration: give a number with d, h, m or s (30d, 12h, 90m)")
        }
        return seconds
    }

    static func openDatabase(_ path: String) throws(Failure) -> InboxDatabase {
        guard FileManager.default.fileExists(atPath: path) else {
            throw Failure(description: "no database at \(path): run `wabox serve` first, or pass --db with the right file")
        }
        do {
            return try InboxDatabase(path: path)
        } catch {
            throw Failure(description: String(describing: error))
        }
    }
}
