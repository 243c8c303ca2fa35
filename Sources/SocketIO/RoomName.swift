/// A room name that came from outside (a client, a backend, another node) and was checked once, at the edge:
/// 1 to `maxBytes` UTF-8 bytes (default 256, `SocketIOConfiguration.maxRoomNameBytes`) and no control character
/// (Unicode category Cc: U+0000–U+001F, U+007F–U+009F). Every API that takes a room from outside takes this type,
/// so a name is never stored, subscribed to on Redis or logged before it was bounded. Immutable value.
public struct RoomName: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The default bound in UTF-8 bytes, as Centrifugo's channel names (255) and most brokers' topic names.
    public static let defaultMaxBytes = 256

    /// The checked name.
    public let rawValue: String

    /// Checks `name`; throws `RoomNameError` saying why it is refused.
    public init(_ name: String, maxBytes: Int = RoomName.defaultMaxBytes) throws(RoomNameError) {
        let bytes = name.utf8.count
        guard bytes > 0 else { throw .empty }
        guard bytes <= maxBytes else { throw .tooLong(maxBytes: maxBytes) }
        guard !name.unicodeScalars.contains(where: Self.isControl) else { throw .controlCharacter }
        rawValue = name
    }

    /// Nil when `name` is refused.
    public init?(validating name: String, maxBytes: Int = RoomName.defaultMaxBytes) {
        guard let room = try? RoomName(name, maxBytes: maxBytes) else { return nil }
        self = room
    }

    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (scalar.value >= 0x7F && scalar.value <= 0x9F)
    }

    public var description: String { rawValue }
    public static func < (lhs: RoomName, rhs: RoomName) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// Why a room name was refused. `code` is a stable machine-readable string for JSON error bodies.
public struct RoomNameError: Error, Hashable, Sendable, CustomStringConvertible {
    private enum Kind: Hashable, Sendable {
        case empty
        case tooLong(Int)
        case controlCharacter
    }

    private let kind: Kind

    /// The name is the empty string.
    public static let empty = RoomNameError(kind: .empty)
    /// The name is longer than `maxBytes` UTF-8 bytes.
    public static func tooLong(maxBytes: Int) -> RoomNameError { RoomNameError(kind: .tooLong(maxBytes)) }
    /// The name contains a control character.
    public static let controlCharacter = RoomNameError(kind: .controlCharacter)

    /// `room_empty`, `room_too_long` or `room_control_character`.
    public var code: String {
        switch kind {
        case .empty: "room_empty"
        case .tooLong: "room_too_long"
        case .controlCharacter: "room_control_character"
        }
    }

    public var description: String {
        switch kind {
        case .empty: "room name is empty"
        case .tooLong(let max): "room name is longer than \(max) UTF-8 bytes"
        case .controlCharacter: "room name contains a control character"
        }
    }
}
