import NIOCore
import Testing
@testable import WebhookServer

/// `ConnectionGuard.StateMachine` alone: time in, timer actions out.
@Suite struct ConnectionGuardStateMachineTests {
    private let timeouts = ConnectionGuard.Timeouts(requestTimeout: .seconds(15), idleTimeout: .seconds(60))
    private func at(_ seconds: Int64) -> NIODeadline { .uptimeNanoseconds(UInt64(seconds) * 1_000_000_000) }

    @Test func anOpenConnectionThatSendsNothingIsIdle() {
        var state = ConnectionGuard.StateMachine(timeouts: timeouts)
        check(state.added(now: at(100)), .rearm(at(160)))
        #expect(state.timerFired(now: at(159)) == .rearm(at(160)))  // an early wake-up
        #expect(state.timerFired(now: at(160)) == .close(.idle))
    }

    @Test func aRequestMustBeReadWithinTheRequestTimeout() {
        var state = ConnectionGuard.StateMachine(timeouts: timeouts)
        _ = state.added(now: at(0))
        check(state.bytesRead(now: at(10)), .rearm(at(25)))
        // Later bytes of the same request do not move its deadline: trickling is no escape.
        check(state.bytesRead(now: at(20)), .keep)
        check(state.bytesRead(now: at(24)), .keep)
        #expect(state.timerFired(now: at(25)) == .close(.request))
    }

    /// While an answer is awaited (a commit) no clock runs; the answer's end starts the idle one.
    @Test func noClockRunsWhileAnAnswerIsAwaited() {
        var state = ConnectionGuard.StateMachine(timeouts: timeouts)
        _ = state.added(now: at(0))
        _ = state.bytesRead(now: at(1))
        state.requestRead()
        #expect(state.deadline == nil)
        #expect(state.timerFired(now: at(16)) == .none)
        #expect(state.timerFired(now: at(10_000)) == .none)
        check(state.responseSent(now: at(10_000)), .rearm(at(10_060)))
        #expect(state.timerFired(now: at(10_060)) == .close(.idle))
    }

    /// Pipelined requests: the clock stops only once every request read is answered.
    @Test func pipelinedRequestsKeepTheClockStoppedUntilTheLastAnswer() {
        var state = ConnectionGuard.StateMachine(timeouts: timeouts)
        _ = state.added(now: at(0))
        _ = state.bytesRead(now: at(1))
        state.requestRead()
        _ = state.bytesRead(now: at(1))  // the second request arrived in the same read
        state.requestRead()
        check(state.responseSent(now: at(2)), .rearm(nil))
        #expect(state.timerFired(now: at(100)) == .none)
        check(state.responseSent(now: at(3)), .rearm(at(63)))
        // A new request's first bytes start its clock again.
        check(state.bytesRead(now: at(50)), .rearm(at(65)))
    }

    /// The router may answer before the request's end was read: the count dips below zero
    /// and the RequestRead that follows puts it back.
    @Test func anAnswerBeforeTheRequestEndLeavesTheIdleClockRunning() {
        var state = ConnectionGuard.StateMachine(timeouts: timeouts)
        _ = state.added(now: at(0))
        _ = state.bytesRead(now: at(1))
        check(state.responseSent(now: at(2)), .rearm(at(16)))  // still reading: the request clock
        state.requestRead()
        #expect(state.deadline == at(62))
        #expect(state.timerFired(now: at(16)) == .rearm(at(62)))
        #expect(state.timerFired(now: at(62)) == .close(.idle))
    }
}
