import ArgumentParser
import Foundation
import InboxServices
import InboxStore

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print stored messages, oldest first, one JSON object per line.",
        version: waboxVersion
    )

    enum Format: String, ExpressibleByArgument, CaseIterable { case jsonl }

    @OptionGroup var global: GlobalOptions

    @Option(help: ArgumentHelp("Only this contact: a wa_id, user id (US.…) or username.", valueName: "id"))
    var contact: String?

    @Option(help: "Output format.")
    var format: Format = .jsonl

    func run() throws {
        let settings = try global.settings()
        let path = settings.databasePath
        guard FileManager.default.fileExists(atPath: path) else {
            throw Failure("no database at \(path): run `wabox serve` first, or pass --db with the right file")
        }
        let database: InboxDatabase
        do {
            database = try InboxDatabase(path: path)
            // Read your writes: every webhook acknowledged before now is exported.
            _ = try CurrentInbox.catchUp(database)
        } catch {
            throw Failure(String(describing: error))
        }
        var output = BufferedOutput()
        do {
            try database.export(contact: contact) { record in
                output.write(Data((record.jsonLine + "\n").utf8))
            }
        } catch let error as InboxDatabase.UnknownContact {
            throw Failure(error.description)
        }
        output.flush()
    }
}

/// Collects output and writes it to standard output in large chunks.
struct BufferedOutput {
    private var buffer = Data()

    mutating func write(_ data: Data) {
        buffer.append(data)
        if buffer.count >= 1 << 16 { flush() }
    }

    mutating func flush() {
        FileHandle.standardOutput.write(buffer)
        buffer.removeAll(keepingCapacity: true)
    }
}
