/// The demo chat's bot: a pure answer for each message, so tests know exactly what it says.
public enum DemoChatBot {
    /// The bot's answer to `text` from `sender`.
    public static func reply(to text: String, from sender: String) -> String {
        let lowered = text.lowercased()
        let words = Set(lowered.split(whereSeparator: { !$0.isLetter && !$0.isNumber }).map(String.init))
        if !words.isDisjoint(with: ["hi", "hello", "hey", "hallo"]) {
            return "Hello \(sender)! I am the demo bot. Everything you write here is stored and pushed to everyone in the room."
        }
        if !words.isDisjoint(with: ["order", "orders", "status", "shipped"]) {
            return "Open /demo/orders?user=\(sender) to watch your orders move from placed to delivered, live."
        }
        if !words.isDisjoint(with: ["help", "what", "how"]) {
            return "Try the three pages: /demo/orders, /demo/chat and /demo/dashboard. Reload this one: the history comes back."
        }
        let shown = text.count > 60 ? String(text.prefix(60)) + "…" : text
        return "\(sender) said “\(shown)” (\(text.count) characters). Say hello, or ask about orders."
    }
}
