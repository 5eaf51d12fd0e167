@testable import CursesBackend
import Testing

/// Colour pairs when pictures bring more of them than the terminal has.
@Suite struct ColorPairTests {
    @Test func pairsAreNumberedOnceAndStartAgainWhenTheyRunOut() {
        var pairs = ColorPairs(limit: 4)
        // The theme's colours first, as the first frame draws them.
        #expect(pairs.number(foreground: 2, background: -1) == .new(1))
        #expect(pairs.number(foreground: 2, background: -1) == .existing(1))
        #expect(pairs.number(foreground: 196, background: 21) == .new(2))
        #expect(pairs.number(foreground: 46, background: 21) == .new(3))
        // Pairs 1–3 are all there are: the next one does not fit.
        #expect(pairs.number(foreground: 226, background: 21) == .full)
        #expect(pairs.number(foreground: 196, background: 21) == .existing(2))
        // Numbered afresh (the frame is then painted whole), the theme's colours get a
        // pair again instead of the terminal's default colours.
        pairs.reset()
        #expect(pairs.count == 0)
        #expect(pairs.number(foreground: 226, background: 21) == .new(1))
        #expect(pairs.number(foreground: 2, background: -1) == .new(2))
    }
}
