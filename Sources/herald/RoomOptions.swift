import ArgumentParser

/// Bounds on rooms and Socket.IO packets taken from clients.
struct RoomOptions: ParsableArguments {
    @Option(help: "Longest room name in UTF-8 bytes [HERALD_MAX_ROOM_NAME_BYTES, default 256].") var maxRoomNameBytes: Int?
    @Option(help: "Most rooms one socket may be in [HERALD_MAX_ROOMS_PER_SOCKET, default 1000].") var maxRoomsPerSocket: Int?
    @Option(help: "Most binary attachments of one packet [HERALD_MAX_ATTACHMENTS, default 10].") var maxAttachments: Int?
    @Option(help: "Time for a binary packet's attachments to arrive, in ms [HERALD_ATTACHMENT_TIMEOUT, default 30000].") var attachmentTimeout: Int?

    var settings: [String: String?] {
        [
            "HERALD_MAX_ROOM_NAME_BYTES": maxRoomNameBytes.map(String.init),
            "HERALD_MAX_ROOMS_PER_SOCKET": maxRoomsPerSocket.map(String.init),
            "HERALD_MAX_ATTACHMENTS": maxAttachments.map(String.init),
            "HERALD_ATTACHMENT_TIMEOUT": attachmentTimeout.map(String.init),
        ]
    }
}
