import ArgumentParser

/// Presence per room (docs/presence.md).
struct PresenceOptions: ParsableArguments {
    @Option(help: "Room patterns keeping presence, comma-separated (besides auth rules with \"presence\": true) [HERALD_PRESENCE_ROOMS].") var presenceRooms: String?
    @Option(help: "Token claims reported with a member's sub, comma-separated [HERALD_PRESENCE_CLAIMS, default name].") var presenceClaims: String?
    @Option(help: "Bytes of a member's reported claims [HERALD_PRESENCE_MAX_CLAIM_BYTES, default 256].") var presenceMaxClaimBytes: Int?
    @Option(help: "Members listed by presence:get and the presence API [HERALD_PRESENCE_MAX_MEMBERS, default 100].") var presenceMaxMembers: Int?
    @Option(help: "A node silent this long (ms) is taken for dead and its members leave [HERALD_PRESENCE_NODE_TIMEOUT, default 30000].") var presenceNodeTimeout: Int?

    var settings: [String: String?] {
        [
            "HERALD_PRESENCE_ROOMS": presenceRooms, "HERALD_PRESENCE_CLAIMS": presenceClaims,
            "HERALD_PRESENCE_MAX_CLAIM_BYTES": presenceMaxClaimBytes.map(String.init),
            "HERALD_PRESENCE_MAX_MEMBERS": presenceMaxMembers.map(String.init),
            "HERALD_PRESENCE_NODE_TIMEOUT": presenceNodeTimeout.map(String.init),
        ]
    }
}
