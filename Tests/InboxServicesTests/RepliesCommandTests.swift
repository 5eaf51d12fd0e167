import Foundation
import InboxServices
import InboxStore
import InboxTesting
import InboxTUI
import Testing

/// Runs the command as the program does, from a thread of its own: it blocks its caller
/// while the database writes, which a thread of the cooperative pool must never do.
private func replies(_ words: [String], _ db: InboxDatabase) async -> Result<String, RepliesCommand.Failure> {
    await withCheckedContinuation { continuation in
        Thread {
            continuation.resume(returning: Result { () throws(RepliesCommand.Failure) in
                try RepliesCommand.run(words, database: db)
            })
        }.start()
    }
}

/// `wabox replies` and the personal replies file.
@Suite struct RepliesCommandTests {
    @Test func addListRemove() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let db = temp.database
        #expect(try await replies(["list"], db).get().hasPrefix("no team replies yet"))
        #expect(try await replies(["add", "hello", "Hi", "{{name}}!"], db).get()
                == "added /hello: every screen offers it with /hello and Tab")
        #expect(try await replies(["add", "hello", "Hello {{name}}"], db).get().hasPrefix("replaced /hello"))
        _ = try await replies(["add", "bye", "Bye\nnow"], db).get()
        #expect(try await replies(["list"], db).get() == "/bye\tBye\\nnow\n/hello\tHello {{name}}")
        #expect(try await replies(["remove", "bye"], db).get() == "removed /bye")
        #expect(try db.cannedReplies() == [CannedReply(name: "hello", text: "Hello {{name}}")])
    }

    @Test func mistakesSayWhatToDo() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        func failure(_ words: [String]) async -> String {
            switch await replies(words, temp.database) {
            case .success: ""
            case .failure(let error): error.description
            }
        }
        #expect(await failure(["add", "hello"]).hasPrefix("replies add needs a name and a text: use `wabox replies add NAME TEXT`"))
        #expect(await failure(["add", "two words", "x"]).hasPrefix("reply name \"two words\" must be 1 to 32 letters"))
        #expect(await failure(["remove", "nope"]) == "no team reply is called nope: `wabox replies list` shows them")
        #expect(await failure(["frobnicate"]).hasPrefix("unknown replies command frobnicate: use"))
        #expect(await failure([]).hasPrefix("use `wabox replies add NAME TEXT`"))
    }

    @Test func personalRepliesFileIsReadOrRefusedWithItsLine() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("wabox-replies-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let environment = ["XDG_CONFIG_HOME": directory.path]
        #expect(try ScreenSession.personalReplies(environment: environment) == [])  // no file: none
        let file = CannedReply.personalFile(environment: environment)
        #expect(file == directory.path + "/wabox/replies.toml")
        try FileManager.default.createDirectory(atPath: directory.path + "/wabox", withIntermediateDirectories: true)
        try "# mine\nthanks = \"Thanks {{name}}!\"\nbye = \"\"\"\nSee you\n\"\"\"\n".write(toFile: file, atomically: true, encoding: .utf8)
        #expect(try ScreenSession.personalReplies(environment: environment)
                == [CannedReply(name: "bye", text: "See you\n"), CannedReply(name: "thanks", text: "Thanks {{name}}!")])
        func refusal(_ text: String) -> String {
            do {
                _ = try CannedReply.parsePersonal(text, file: "replies.toml")
                return ""
            } catch {
                return String(describing: error)
            }
        }
        #expect(refusal("ok = \"x\"\nnumber = 3\n")
                == "replies replies.toml, line 2, number: the value must be a string, like number = \"Hello {{name}}\"")
        #expect(refusal("ok = \"x\"\n\n\"two words\" = \"y\"\n").hasPrefix("replies replies.toml, line 3: reply name \"two words\" must be"))
        #expect(refusal("ok = \"x\"\nbroken = \n").hasPrefix("replies replies.toml, line 2:"))
        #expect(refusal("empty = \"  \"\n") == "replies replies.toml, line 1, empty: the text is empty")
    }
}
