/**
 * Removes terminal escape sequences from keyboard input before Ink parses it.
 *
 * Why: Ink 6.8's useInput throws (`Cannot read properties of undefined (reading 'startsWith')`) on a
 * CSI sequence with a Ctrl modifier and a final byte it has no name for: Ctrl+F1 in VS Code
 * (`ESC[1;5P`), focus reports, or pasted coloured text (`ESC[31m`). The throw is in a stream listener,
 * so the app died with a stack trace (vadimdemedes/ink#901, fixed in Ink 7, which needs Node 22).
 * The prompt uses none of these keys (arrows, function keys, Alt+key do nothing in it), so they go.
 */

const ESC = '\u001b';

const isParameterOrIntermediate = (code: number): boolean => code >= 0x20 && code <= 0x3f;
const isFinal = (code: number): boolean => code >= 0x40 && code <= 0x7e;

/** A stateful filter: a sequence split across reads is held until it is complete, then dropped. */
export function createEscapeFilter(): { push(chunk: string): string } {
  let pending = '';
  return {
    push(chunk: string): string {
      // A lone Escape held from the last read and not continued by a sequence was the Escape key:
      // drop it rather than read it as Alt + the next key.
      const lone = pending === ESC || pending === ESC + ESC;
      const text = lone && chunk !== '' && chunk[0] !== '[' && chunk[0] !== 'O' ? chunk : pending + chunk;
      pending = '';
      let out = '';
      let i = 0;
      while (i < text.length) {
        const at = text.indexOf(ESC, i);
        if (at === -1) {
          out += text.slice(i);
          break;
        }
        out += text.slice(i, at);
        let j = at + 1;
        if (text[j] === ESC) j++;
        if (j >= text.length) {
          pending = text.slice(at);
          break;
        }
        const kind = text[j];
        if (kind === '[') {
          let k = j + 1;
          if (text[k] === '[') k++; // ESC [ [ A: Cygwin function keys
          while (k < text.length && isParameterOrIntermediate(text.charCodeAt(k))) k++;
          if (k >= text.length) {
            pending = text.slice(at);
            break;
          }
          // A complete sequence is dropped with its final byte; a malformed one up to where it broke.
          i = isFinal(text.charCodeAt(k)) ? k + 1 : k;
        } else if (kind === 'O') {
          if (j + 1 >= text.length) {
            pending = text.slice(at);
            break;
          }
          i = isFinal(text.charCodeAt(j + 1)) ? j + 2 : j + 1;
        } else {
          // Alt+key (ESC then a character): the prompt ignores it.
          i = j + (text.codePointAt(j)! > 0xffff ? 2 : 1);
        }
      }
      return out;
    },
  };
}

/** `stdin` as Ink sees it, with escape sequences filtered out of what `read()` returns. */
export function withoutEscapeSequences<T extends NodeJS.ReadStream>(stdin: T): T {
  const filter = createEscapeFilter();
  return new Proxy(stdin, {
    get(target, property) {
      if (property === 'read') {
        return (size?: number): string | Buffer | null => {
          const chunk = target.read(size) as string | Buffer | null;
          if (chunk === null) return null;
          return filter.push(typeof chunk === 'string' ? chunk : chunk.toString('utf8'));
        };
      }
      const value = Reflect.get(target, property, target) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
