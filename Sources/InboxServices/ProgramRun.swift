import Foundation
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
            pid = try spawn(executable, [argument], environment: environment, stdout: output[1], stderr: errors[1])
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

    /// Starts `executable` as the leader of a new process group: standard input from
    /// /dev/null, output and errors into the given pipe ends, no other descriptor
    /// inherited, default signal handling and mask.
    private static func spawn(_ executable: String, _ arguments: [String], environment: [String: String],
                              stdout: Int32, stderr: Int32) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, stdout, 1)
        posix_spawn_file_actions_adddup2(&actions, stderr, 2)
        // The pipes' other ends are close-on-exec; closefrom also keeps out any descriptor
        // another thread opened without it.
        typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        if let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") {
            _ = unsafeBitCast(symbol, to: CloseFrom.self)(&actions, 3)
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t(), allSignals = sigset_t()
        sigemptyset(&noSignals)
        sigfillset(&allSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard spawned == 0 else {
            throw Failure(description: "could not start \(executable): \(String(cString: strerror(spawned)))")
        }
        return pid
    }
}
