/// A key press, decoded from the terminal by the backend.
public enum Key: Hashable, Sendable {
    case character(Character)
    case control(Character)
    case up, down, left, right, home, end, pageUp, pageDown
    case enter, escape, backspace, delete, tab, backTab
    case resize

    /// `Ctrl-X` as the byte a terminal sends (1–26 for letters).
    public static func fromControlByte(_ byte: UInt32) -> Key? {
        switch byte {
        case 9: return .tab
        case 10, 13: return .enter
        case 27: return .escape
        case 8, 127: return .backspace
        case 1...26: return .control(Character(Unicode.Scalar(byte + 96)!))
        default: return nil
        }
    }
}
