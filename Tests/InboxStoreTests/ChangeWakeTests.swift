import Foundation
import InboxCore
import InboxStore
import InboxTesting
import Testing

/// The change signal a screen waits on: a commit by another connection (or process)
/// makes the descriptor readable and moves the change count.
@Suite struct ChangeWakeTests {
    func isReadable(_ descriptor: Int32, within milliseconds: Int32) -> Bool {
        var fds = [pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)]
        return poll(&fds, 1, milliseconds) > 0 && fds[0].revents & Int16(POLLIN) != 0
    }

    @Test func aCommitElsewhereWakesTheDescriptor() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let wake = temp.database.openChangeWake()
        let descriptor = try #require(wake.descriptor, "inotify is available on this machine")
        #expect(wake.waitMilliseconds == ChangeWake.wokenWaitMilliseconds)
        wake.drain()
        #expect(!isReadable(descriptor, within: 0), "drained, nothing written since")

        let before = temp.database.changeCount
        // Another opening of the file, as another process would have.
        let other = try InboxDatabase(path: temp.path)
        _ = try await other.ingest([Fixtures.webhook("text")])
        #expect(isReadable(descriptor, within: 10_000), "a commit by another connection wakes the screen")
        #expect(temp.database.changeCount != before)
        wake.drain()
        wake.close()
        #expect(wake.descriptor == nil)
    }

    @Test func withoutInotifyTheScreenPolls() throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let wake = temp.database.openChangeWake(polling: true)
        #expect(wake.descriptor == nil)
        #expect(wake.waitMilliseconds == ChangeWake.pollingWaitMilliseconds)
        #expect(ChangeWake.pollingWaitMilliseconds < ChangeWake.wokenWaitMilliseconds)
    }
}
