import Foundation
import InboxCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Runs an operator's program to its end with one argument and a time limit, and keeps
/// what it printed: `transcribe_command`.
///
/// - Important: No shell: the argument is passed as it is, so nothing in a path is
///   interpreted. The program runs in a process group of its own, and the whole group is
///   killed when the time is up (a script's children go with it). The waiting happens on
///   a thread of its own, never on the cooperative pool.
enum ProgramRun {
    struct Outcome: Sendable {
        enum Ending: Sendable, Equatable {
            case exited(Int32)
            case signalled(Int32)
            case timedOut
            /// The caller stopped waiting (shutdown); the program was killed.
            case cancelled
        }

        var ending: Ending
        var stdout: Data
        /// The program printed more than the cap; what is kept is its beginning.
        var stdoutTruncated: Bool
        var stderr: Data
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Runs `executable` with `argument` on a thread of its own and waits for it without
    /// holding a thread of the pool; a cancelled task kills the program.
    static func run(_ executable: String, argument: String, environment: [String: String], timeout: Duration,
                    maxOutput: Int) async throws -> Outcome {
        let stop = StopFlag()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let thread = Thread {
                    continuation.resume(with: Result {
                        try runBlocking(executable, argument: argument, environment: environment, timeout: timeout,
                                        maxOutput: maxOutput, stop: stop)
                    })
                }
                thread.name = "wabox program"
                thread.start()
            }
        } onCancel: {
            stop.set()
        }
    }

    final class StopFlag: Sendable {
        private let stopped = Mutex(false)
        func set() { stopped.withLock { $0 = true } }
        var isSet: Bool { stopped.withLock { $0 } }
    }

    /// Blocks the calling thread until the program ends, the time is up or `stop` is set.
    static func runBlocking(_ executable: String, argument: String, environment: [String: String], timeout: Duration,
                            maxOutput: Int, stop: StopFlag) throws -> Outcome {
        let deadline = ContinuousClock.now + timeout
        var output: [Int32] = [-1, -1], errors: [Int32] = [-1, -1]
        guard pipe(&output) == 0 else { throw Failure(description: "no pipe: \(String(cString: strerror(errno)))") }
        guard pipe(&errors) == 0 else {
            output.forEach { close($0) }
            throw Failure(description: "no pipe: \(String(cString: strerror(errno)))")
        }
        // Not inherited by programs other threads start meanwhile (Swift's Glibc has no pipe2).
        for descriptor in output + errors { _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC) }
        var readEnds = [output[0], errors[0]]
        defer { readEnds.filter { $0 >= 0 }.forEach { close($0) } }
        let pid: pid_t
        do {
            defer {
                close(output[1])
                close(errors[1])
            }
            // The leader of a new process group, so that the time limit kills its children too.
            do {
                pid = try ProcessSpawn.start(executable, [argument], environment: environment,
                                             standardOutput: .descriptor(output[1]), standardError: .descriptor(errors[1]),
                                             newProcessGroup: true)
            } catch {
                throw Failure(description: error.description)
            }
        }
        for descriptor in readEnds { _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK) }

        var collected = [Data(), Data()]
        var truncated = false
        let caps = [maxOutput, 8 * 1024]
        var status: Int32?
        var ending: Outcome.Ending?
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while ending == nil {
            if status == nil {
                var raw: Int32 = 0
                if waitpid(pid, &raw, WNOHANG) == pid { status = raw }
            }
            let open = readEnds.indices.filter { readEnds[$0] >= 0 }
            if open.isEmpty, status != nil { break }
            if stop.isSet { ending = .cancelled; break }
            let remaining = deadline - .now
            if remaining <= .zero { ending = .timedOut; break }
            let remainingMilliseconds = Int32(clamping: remaining.components.seconds * 1000
                + remaining.components.attoseconds / 1_000_000_000_000_000)
            if open.isEmpty {
                // Both streams closed, the program not ended yet.
                usleep(UInt32(min(20, max(1, remainingMilliseconds))) * 1000)
                continue
            }
            var descriptors = open.map { pollfd(fd: readEnds[$0], events: Int16(POLLIN), revents: 0) }
            // Once it has ended, only what is already in the pipes is read: a child it left
            // behind may hold them open.
            let ready = poll(&descriptors, nfds_t(descriptors.count), status == nil ? min(50, remainingMilliseconds) : 0)
            if ready == 0, status != nil { break }
            guard ready > 0 else { continue }
            for (slot, index) in open.enumerated() where descriptors[slot].revents != 0 {
                let count = read(readEnds[index], &buffer, buffer.count)
                if count > 0 {
                    let room = caps[index] - collected[index].count
                    if room > 0 { collected[index].append(contentsOf: buffer[0..<min(room, count)]) }
                    if count > room, index == 0 { truncated = true }
                } else if count == 0 || (errno != EAGAIN && errno != EINTR) {
                    close(readEnds[index])
                    readEnds[index] = -1
                }
            }
        }
        if status == nil {
            // Out of time, or stopped: the whole group, so that a script's children go too.
            kill(-pid, SIGKILL)
            var raw: Int32 = 0
            while waitpid(pid, &raw, 0) < 0 && errno == EINTR {}
            status = raw
        }
        let raw = status ?? 0
        let final = ending ?? (raw & 0x7f == 0 ? .exited((raw >> 8) & 0xff) : .signalled(raw & 0x7f))
        return Outcome(ending: final, stdout: collected[0], stdoutTruncated: truncated, stderr: collected[1])
    }
}
