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
 * inside an HTML entity, a tag or an emoji's surrogate pair; tags open at the cut are closed
 * there and opened again in the next message, so each message is well-formed on its own.
 * Nothing is lost or added but the separators at message boundaries.
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
      let cut = safeCut(rest, room);
      let open = openTagsAt(rest, cut);
      if (open.length > 0) {
        // Make room for the closing tags, then look again at what is open at the new cut.
        cut = safeCut(rest, room - closingTags(open).length);
        open = openTagsAt(rest, cut);
      }
      const head = rest.slice(0, cut) + closingTags(open);
      messages.push(current === "" ? head : current + separator + head);
      current = "";
      rest = open.join("") + rest.slice(cut);
    }
  }
  if (current !== "") messages.push(current);
  return messages;
}

/**
 * A cut position at most `max` into `text` that is not inside an HTML entity or tag, nor
 * between the halves of a surrogate pair, after a newline when one is near.
 */
function safeCut(text: string, max: number): number {
  let cut = max;
  const lt = text.lastIndexOf("<", cut - 1);
  if (lt > text.lastIndexOf(">", cut - 1)) cut = lt;
  const amp = text.lastIndexOf("&", cut - 1);
  if (amp !== -1 && amp > cut - 10 && text.indexOf(";", amp) >= cut) cut = amp;
  const newline = text.lastIndexOf("\n", cut - 1);
  if (newline > max / 2) cut = newline + 1;
  const before = text.charCodeAt(cut - 1);
  if (before >= 0xd800 && before <= 0xdbff) cut -= 1;
  return Math.max(1, cut);
}

/** The opening tags (whole, attributes included) still open at `end` in well-formed `html`. */
function openTagsAt(html: string, end: number): string[] {
  const open: string[] = [];
  for (const match of html.slice(0, end).matchAll(/<(\/?)[a-zA-Z][\w-]*[^>]*>/g)) {
    if (match[1]) open.pop();
    else open.push(match[0]);
  }
  return open;
}

/** `</b></a>` for the opening tags `<a href="...">`, `<b>`. */
function closingTags(open: readonly string[]): string {
  return open
    .map((tag) => `</${/^<([a-zA-Z][\w-]*)/.exec(tag)?.[1] ?? ""}>`)
    .reverse()
    .join("");
}
