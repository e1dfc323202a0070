// SPDX-License-Identifier: MIT
// Built-in training text for the synthetic BPE vocabulary: prose, code, numbers, whitespace runs,
// accented Latin, CJK and emoji, so the learned merges look like those of a real tokenizer.

/** A few KB of varied text; original writing, no third-party content. */
export const BPE_CORPUS: string = [
  `The little model woke up early. It wasn't sure what day it was, but it knew the kettle
would boil soon. "I'll make tea," it said, "and then we're going to read the logs." They'd
been waiting for hours; she's the one who'd noticed the bug first. You've seen it too, haven't you?
I'm not surprised. We've all been there. It's fine. THEY'RE FINE. Don't WORRY, it'LL pass.`,
  `Once upon a time, in a quiet town by the river, there lived a baker who counted everything:
loaves, eggs, coins, and the steps from the oven to the door. Every morning the baker walked
the same path, and every evening the baker wrote the numbers in a small blue notebook.
The town grew, the river changed its course, and the notebook grew thicker with each year.`,
  `Tokenizers split text into pieces. The pieces are then merged, pair by pair, into longer
tokens until the vocabulary is full. Common words such as the, and, of, to, in, is, that, for,
with, as, on, was, are, be, this, by, from, at, or, an, have, it, not, but, which, they, their,
will, can, all, more, one, about, there, when, would, what, so, up, out, if, into, no, time,
only, new, some, could, these, two, may, first, then, do, any, like, my, now, over, such, our,
man, me, even, most, made, after, also, did, many, before, must, through, back, years, where,
much, your, way, well, down, should, because, each, just, those, people, how, too, little,
state, good, very, make, world, still, own, see, men, work, long, get, here, between, both,
life, being, under, never, day, same, another, know, while, last, might, us, great, old, year.`,
  `function add(a, b) {
  return a + b;
}

const result = add(40, 2);
console.log(\`result = \${result}\`);

for (let i = 0; i < 10; i++) {
    if (i % 2 === 0) {
        continue;
    }
    total += i * 3;
}
`,
  `def fibonacci(n: int) -> int:
    """Return the n-th Fibonacci number."""
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


if __name__ == "__main__":
    print(fibonacci(30))  # 832040
`,
  `#include <stdio.h>

int main(void) {
\tint values[4] = {1, 22, 333, 4444};
\tfor (int i = 0; i < 4; ++i) printf("%d\\n", values[i]);
\treturn 0;
}
`,
  `{"name": "lfm2", "version": "0.1.0", "layers": 16, "hidden": 1024, "vocab": 65536,
 "rope_theta": 1000000.0, "eps": 1e-05, "tags": ["conv", "attention", "moe"]}`,
  `Numbers: 0 1 2 3 4 5 6 7 8 9 10 11 12 42 99 100 128 256 512 1024 2048 4096 8192 65536
3.14159 2.71828 1,000,000 12:30 2024-06-01 +1 (555) 010-9999 $19.99 45% 7/8 1e-5 0x1F 0b1010`,
  `Whitespace   runs    of     spaces,\ttabs\t\tand
blank lines


and trailing spaces   
and Windows line endings\r\nlike this\r\n\r\nend.`,
  `Le café était fermé, alors nous sommes allés à la boulangerie. Où est la gare ? Très bien,
merci ! Señor Muñoz comió piñata en Español. Ça va? Die Brücke über den Fluß ist schön.
Ærø, Øresund, Åland. Crème brûlée, naïve façade, coöperate, résumé, São Paulo, Kraków, Łódź.
Ελληνικά γράμματα και Русский язык тоже встречаются в тексте.`,
  `日本語の文章も少し含めます。東京は大きな都市です。今日はいい天気ですね。
中文也可以：我们今天学习分词器。你好，世界！谢谢。한국어 문장도 있습니다. 안녕하세요.`,
  `Emoji time: 😀 😃 😄 🎉 🚀 ❤️ 👍🏽 👩‍💻 👨‍👩‍👧‍👦 🏳️‍🌈 🇫🇷 🇯🇵 ✨ 🔥 — done… “quoted” ‘single’ «guillemets» ™ © ®`,
  `Markdown:
# Title
## Subtitle
- item one
- item two
* **bold** and _italic_ and \`code\`
> quoted line
1. first
2. second
| a | b |
|---|---|
| 1 | 2 |
https://example.com/path?query=value&x=1#anchor  user@example.org`,
  `The quick brown fox jumps over the lazy dog. THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG.
Sphinx of black quartz, judge my vow! Pack my box with five dozen liquor jugs.
How vexingly quick daft zebras jump. Jackdaws love my big sphinx of quartz.`,
].join("\n\n");
