"""A complete gymnpt env plugin: call three coin flips in a row."""
from gymnpt import InvalidAction, Outcome, TextEnv, hookimpl


class CoinFlip(TextEnv):
    instructions = "A coin is flipped. Reply 'heads' or 'tails'. Call three in a row to win."

    def _new_game(self, rng, options):
        self.flips, self.right = list(rng.choice(["heads", "tails"], size=3)), 0

    def _to_act(self):
        return ["player"]

    def _observe(self, seat):
        return f"Correct so far: {self.right}/3. Heads or tails?"

    def _parse(self, seat, text):
        words = [w.strip(".!") for w in text.lower().split() if w.strip(".!") in ("heads", "tails")]
        if not words:
            raise InvalidAction("answer 'heads' or 'tails'")
        return words[-1]

    def _apply(self, moves):
        if moves["player"] != self.flips[self.right]:
            self._finish({"player": Outcome.FAILURE})
            return {"player": 0.0}
        self.right += 1
        if self.right == 3:
            self._finish({"player": Outcome.SUCCESS})
        return {"player": 1.0 if self.right == 3 else 0.0}

    def legal_actions(self, seat):
        return ["heads", "tails"]


@hookimpl
def gymnpt_register_envs(registry):
    registry.register_env(id="coinflip", entry_point=CoinFlip, description="Call three coin flips in a row")
