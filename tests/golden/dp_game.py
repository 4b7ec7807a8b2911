#!/usr/bin/env python3
"""dp_game.py - writes testdata/dp-estimate/game.jsonl, a seeded synthetic
membership-inference game for dp-estimate's score-input tests and examples.

Two audits ("weak" and "strong"), each over 64 trained models with 4
challenge points per model.  For each challenge a fair coin decides
membership; the attack's score is Normal(mu, 1) for members and Normal(0, 1)
for non-members, with mu = 0.5 (weak) or 2.5 (strong).  Python's standard
library only; run by hand:  python3 tests/golden/dp_game.py
"""
import json
import os
import random

def main():
    rng = random.Random(20231)
    out = os.path.join(os.path.dirname(__file__), '..', '..', 'testdata', 'dp-estimate', 'game.jsonl')
    with open(out, 'w') as f:
        for audit, mu in (('weak', 0.5), ('strong', 2.5)):
            for m in range(64):
                for _ in range(4):
                    member = rng.random() < 0.5
                    score = rng.gauss(mu if member else 0.0, 1.0)
                    f.write(json.dumps({'audit': audit, 'model': 'm%02d' % m, 'member': member,
                                        'score': round(score, 4)}, separators=(',', ':')) + '\n')

if __name__ == '__main__':
    main()
