#!/usr/bin/python3
"""Renders `tmux capture-pane -e -p` output as a terminal screenshot PNG (DejaVu Sans Mono; half-blocks drawn exactly).
Usage: capture2png.py capture.txt out.png   (needs Pillow and the DejaVu fonts)"""
import re, sys
from PIL import Image, ImageDraw, ImageFont

FONT = ImageFont.truetype('/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf', 15)
BOLD = ImageFont.truetype('/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf', 15)
CW, CH = 9, 18
DEFAULT_FG, DEFAULT_BG = (220, 220, 220), (24, 24, 32)
BASIC = {30: (0, 0, 0), 31: (230, 80, 80), 32: (90, 200, 90), 33: (220, 200, 80), 34: (90, 130, 230), 35: (200, 100, 200), 36: (80, 200, 210), 37: (220, 220, 220), 90: (128, 128, 128)}

text = open(sys.argv[1], encoding='utf-8').read().rstrip('\n').split('\n')
state = {'fg': None, 'bg': None, 'bold': False, 'dim': False, 'inv': False}
rows = []
for line in text:
    cells = []
    for m in re.finditer(r'\x1b\[([0-9;:]*)m|([^\x1b])', line):
        if m.group(2) is not None:
            cells.append((m.group(2), dict(state)))
            continue
        p = [int(x) if x else 0 for x in re.split('[;:]', m.group(1))]
        i = 0
        while i < len(p):
            c = p[i]
            if c == 0: state.update(fg=None, bg=None, bold=False, dim=False, inv=False)
            elif c == 1: state['bold'] = True
            elif c == 2: state['dim'] = True
            elif c == 22: state.update(bold=False, dim=False)
            elif c == 7: state['inv'] = True
            elif c == 27: state['inv'] = False
            elif c in (38, 48) and i + 4 < len(p) and p[i + 1] == 2:
                state['fg' if c == 38 else 'bg'] = tuple(p[i + 2:i + 5]); i += 4
            elif c in BASIC: state['fg'] = BASIC[c]
            elif c == 39: state['fg'] = None
            elif c == 49: state['bg'] = None
            i += 1
    rows.append(cells)
cols = max(len(r) for r in rows)
img = Image.new('RGB', (cols * CW + 2 * CW, len(rows) * CH + 2 * CW), DEFAULT_BG)
d = ImageDraw.Draw(img)
for y, cells in enumerate(rows):
    for x, (ch, st) in enumerate(cells):
        fg, bg = st['fg'] or DEFAULT_FG, st['bg'] or DEFAULT_BG
        if st['dim'] and st['fg'] is None: fg = (140, 140, 150)
        if st['inv']: fg, bg = bg, fg
        X, Y = CW + x * CW, CW + y * CH
        if ch == '▀':
            d.rectangle([X, Y, X + CW - 1, Y + CH // 2 - 1], fill=fg); d.rectangle([X, Y + CH // 2, X + CW - 1, Y + CH - 1], fill=bg)
            continue
        if bg != DEFAULT_BG: d.rectangle([X, Y, X + CW - 1, Y + CH - 1], fill=bg)
        if ch != ' ': d.text((X, Y), ch, font=BOLD if st['bold'] else FONT, fill=fg)
img.save(sys.argv[2])
