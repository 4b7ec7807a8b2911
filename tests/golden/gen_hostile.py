#!/usr/bin/env python3
"""gen_hostile.py - writes testdata/text/hostile.jsonl, the hostile text set
for tokenizer parity tests: one JSON object {"id": N, "text": "..."} per line.

Covers CJK, emoji and ZWJ sequences, combining marks, full-width forms,
Arabic and Hindi, control characters, long runs of spaces and newlines, very
long words, unusual but valid UTF-8 (noncharacters, private use, astral
planes), NBSP and other Unicode spaces, and added-token look-alikes such as
[NEW0].  Deterministic (seeded); standard library only.  Run by hand:
    python3 tests/golden/gen_hostile.py
"""
import json
import os
import random

FIXED = [
    "", " ", "  ", "\n", "\t", "\r\n", "a", "A", "hello world", "Hello, World!",
    "The quick brown fox jumps over the lazy dog.",
    "I'm can't won't y'all 's 're 've 'll 'd 'S 'RE",
    "   leading spaces", "trailing spaces   ", "  both  ", "multiple     spaces   inside",
    "\n\n\nnewlines\n\n\n", "tab\tseparated\tvalues", "mixed \t\n \r\n whitespace",
    "日本語のテキストです。", "中文文本，包括标点符号。", "한국어 텍스트입니다.", "漢字かなカナ混じり文",
    "emoji 😀😃😄😁 end", "👨‍👩‍👧‍👦 family ZWJ", "🏳️‍🌈 flag", "👍🏽 skin tone", "1️⃣ keycap",
    "e\u0301 combining acute", "a\u0300\u0301\u0302\u0303 stacked marks", "Z\u0351\u0352\u0353algo",
    "ｆｕｌｌ－ｗｉｄｔｈ　ｆｏｒｍｓ　１２３", "ＡＢＣ　ａｂｃ　０１２３４５６７８９", "half ｶﾀｶﾅ",
    "العربية نص مع أرقام ١٢٣", "हिन्दी पाठ और अंक १२३", "עברית", "ελληνικά ΚΕΦΑΛΑΙΑ", "русский ТЕКСТ",
    "control\x01\x02\x03chars", "bell\x07 and escape\x1b[0m", "nul\x00byte", "del\x7f",
    "zero\u200bwidth\u200cjoiner\u200d", "bidi \u202eoverride\u202c", "nbsp\u00a0here", "em\u2003space",
    "ideographic\u3000space", "line\u2028separator", "para\u2029separator", "soft\u00adhyphen",
    "\ufeffBOM at start", "noncharacter \ufdd0 \uffff", "private use \ue000\uf8ff", "astral 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝟘𝟙𝟚",
    "math 𝑥² + 𝑦² = 𝑧²", "supplementary 𠀀𠀁𪚥", "Ⅻ roman ⅻ", "ﬁ ligature ﬂ", "Å Å Å (forms)",
    "ß ẞ İ ı ǅ Ǆ ǆ", "ΣΑΣ σας ς", "Ǳ ǲ ǳ", "µ μ Μ", "K (Kelvin) K", "Ω Ω",
    "[NEW0]", "[NEW0][NEW1]", "text [NEW0] text", "[new0]", "[NEW", "NEW0]", "[[NEW0]]",
    "[CLS] [SEP] [MASK] [PAD] [UNK]", "<s> </s> <pad> <unk> <mask>", "<|endoftext|>", "<|im_start|>user",
    "numbers 0123456789 1234567890123", "3.14159 2.71828 -42 +7 1e10 0x1F", "1,000,000.00 $99.99 €50 ¥100",
    "dates 2024-01-31 31/01/2024", "phone +1 (555) 123-4567", "email a.b@example.com", "https://example.com/a?b=c&d=e#f",
    "path/to/file.txt C:\\Windows\\System32", "snake_case camelCase PascalCase kebab-case SCREAMING_CASE",
    "punctuation!!! ??? ... ,,, ;;; ::: --- ___ ***", "quotes \"double\" 'single' «guillemets» „low“ “curly”",
    "brackets ()[]{}<> 【】《》「」", "code: for (int i = 0; i < n; i++) { x[i] = 0; }",
    "json {\"a\": [1, 2, {\"b\": null}]}", "markdown # Title **bold** _it_ `code`", "<html><body>tag</body></html>",
    "a" * 500, "supercalifragilisticexpialidocious" * 8, "x" * 1000 + " y", "ab" * 300,
    " " * 200 + "after many spaces", "\n" * 100 + "after many newlines", "word " * 200,
    "日本" * 200, "😀" * 100, "é" * 300, "\u0301" * 50, "🇯🇵🇺🇸🇬🇧", "‼️ ⁉️ ™️ ©️ ®️",
]

SCRIPTS = ["abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "0123456789",
           "αβγδεζηθικλμνξοπρστυφχψω", "абвгдежзийклмнопрстуфхцчшщъыьэюя", "あいうえおかきくけこさしすせそ",
           "的一是不了人我在有他这为之大来以个中上们", "ابتثجحخدذرزسشصضطظعغفقكلمنهوي", "कखगघङचछजझञटठडढणतथदधन",
           " ", " ", " ", "\n", "\t", ".,!?;:'\"-()[]{}", "😀🎉🚀❤️👍", "\u0300\u0301\u0308\u0327", "　，。"]


def main():
    rng = random.Random(4242)
    lines = list(FIXED)
    while len(lines) < 360:
        n = rng.randint(1, 120)
        s = []
        for _ in range(n):
            pool = rng.choice(SCRIPTS)
            s.append(rng.choice(pool))
        lines.append("".join(s))
    out = os.path.join(os.path.dirname(__file__), "..", "..", "testdata", "text", "hostile.jsonl")
    with open(out, "w", encoding="utf-8") as f:
        for i, t in enumerate(lines):
            f.write(json.dumps({"id": i, "text": t}, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
