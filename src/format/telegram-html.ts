/**
 * Telegram's HTML parse mode, shared by the alert module's Telegram channel and the command bot:
 * escaping and splitting text into messages under Telegram's limit.
 */

/** Telegram's limit on one message's text. */
export const TELEGRAM_MAX_MESSAGE_CHARS = 4096;

/** Escapes text for Telegram's HTML parse mode (`&`, `<`, `>`, and `"` for attributes). */
export function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/**
 * Packs blocks into messages of at most `limit` characters, blocks joined by blank lines. A block
 * too long for the room left (a long escaped message) is cut, preferably at a newline and never
 * inside an HTML entity; nothing is lost or added but the separators at message boundaries.
 */
export function splitMessage(blocks: readonly string[], limit = TELEGRAM_MAX_MESSAGE_CHARS): string[] {
  const separator = "\n\n";
  const messages: string[] = [];
  let current = "";
  for (const block of blocks) {
    let rest = block;
    while (rest !== "") {
      const room = current === "" ? limit : limit - current.length - separator.length;
      if (rest.length <= room) {
        current = current === "" ? rest : current + separator + rest;
        break;
      }
      if (current !== "" && (rest.length <= limit || room < limit / 8)) {
        messages.push(current); // start the block in a fresh message
        current = "";
        continue;
      }
      const cut = safeCut(rest, room);
      const head = rest.slice(0, cut);
      messages.push(current === "" ? head : current + separator + head);
      current = "";
      rest = rest.slice(cut);
    }
  }
  if (current !== "") messages.push(current);
  return messages;
}

/** A cut position at most `max` into `text` that is not inside an HTML entity, after a newline when one is near. */
function safeCut(text: string, max: number): number {
  let cut = max;
  const amp = text.lastIndexOf("&", cut - 1);
  if (amp !== -1 && amp > cut - 10 && text.indexOf(";", amp) >= cut) cut = amp;
  const newline = text.lastIndexOf("\n", cut - 1);
  if (newline > max / 2) cut = newline + 1;
  return Math.max(1, cut);
}
