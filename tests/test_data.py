import json

import numpy as np
import pytest

from jirl.data import (
    ARRAY_KEYS,
    DemoError,
    from_trajectories,
    import_pickled_npy,
    load_demonstrations,
    save_demonstrations,
)


def _demos(n_eps=3, length=10, obs_dim=4, act_dim=2):
    rng = np.random.default_rng(0)
    trajs = []
    for _ in range(n_eps):
        obs = rng.normal(size=(length + 1, obs_dim)).astype(np.float32)
        trunc = np.zeros(length, bool)
        trunc[-1] = True
        trajs.append(dict(obs=obs[:-1], action=rng.uniform(-1, 1, (length, act_dim)), reward=rng.normal(size=length),
                          next_obs=obs[1:], terminated=np.zeros(length, bool), truncated=trunc))
    return from_trajectories(trajs, "Toy-v0", [-2.0] * act_dim, [2.0] * act_dim, made_by={"test": True})


def _write_npz(path, arrays):
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    return path


def _arrays(demos):
    d = {k: getattr(demos, k) for k in ARRAY_KEYS}
    d["metadata"] = np.array(json.dumps(demos.metadata))
    return d


def test_round_trip_and_selection(tmp_path):
    demos = _demos()
    path = save_demonstrations(tmp_path / "d.npz", demos)
    back = load_demonstrations(path, env_id="Toy-v0", obs_dim=4, action_dim=2)
    for k in ARRAY_KEYS:
        np.testing.assert_array_equal(getattr(back, k), getattr(demos, k))
    assert back.num_episodes == 3 and list(back.episode_lengths) == [10, 10, 10]
    np.testing.assert_allclose(back.episode_returns, back.metadata["episode_returns"], rtol=1e-5)
    assert back.metadata["package_versions"]["numpy"] == np.__version__
    assert np.abs(back.actions).max() <= 2.0 and np.abs(back.normalized_actions()).max() <= 1.0
    two = back.select_episodes(2)
    assert two.num_transitions == 20 and two.num_episodes == 2
    with pytest.raises(DemoError, match="asked for 4"):
        back.select_episodes(4)
    assert not list(tmp_path.glob(".*tmp"))  # no temp files left behind


def _mutate(tmp_path, **changes):
    arrays = _arrays(_demos())
    for k, v in changes.items():
        if v is None:
            del arrays[k]
        else:
            arrays[k] = v(arrays[k]) if callable(v) else v
    return _write_npz(tmp_path / "bad.npz", arrays)


def _meta(**kv):
    def f(m):
        meta = json.loads(str(m))
        meta.update(kv)
        return np.array(json.dumps(meta))
    return f


def _set(key_index, value):
    def f(a):
        a = a.copy()
        a[key_index] = value
        return a
    return f


BAD_CASES = {
    "missing_key": (dict(rewards=None), "missing arrays"),
    "nan_obs": (dict(observations=_set((3, 1), np.nan)), "non-finite values .first at row 3"),
    "inf_reward": (dict(rewards=_set(5, np.inf)), "rewards has non-finite"),
    "wrong_rows": (dict(actions=lambda a: a[:-1]), "actions has 29 rows"),
    "wrong_ndim": (dict(rewards=lambda r: r[:, None]), "rewards has 2 dimensions"),
    "wrong_dtype": (dict(terminated=lambda t: t.astype(np.float32)), "terminated has dtype float32"),
    "int_obs": (dict(observations=lambda o: o.astype(np.int64)), "observations has dtype int64"),
    "next_obs_shape": (dict(next_observations=lambda o: o[:, :3]), "next_observations shape"),
    "action_out_of_bounds": (dict(actions=_set((0, 0), 5.0)), "outside the env's bounds"),
    "starts_not_zero": (dict(episode_starts=lambda s: s[1:]), "must begin with 0"),
    "starts_not_increasing": (dict(episode_starts=np.array([0, 20, 10])), "strictly increasing"),
    "end_without_flag": (dict(truncated=_set(9, False)), "without terminated or truncated"),
    "flag_mid_episode": (dict(truncated=_set(4, True)), "middle of an episode"),
    "both_flags": (dict(terminated=_set(9, True)), "both terminated and truncated"),
    "bad_meta_json": (dict(metadata=np.array("{not json")), "not valid JSON"),
    "meta_not_object": (dict(metadata=np.array("[1, 2]")), "must be a JSON object"),
    "meta_not_string": (dict(metadata=np.zeros(3)), "metadata must be a JSON string"),
    "wrong_format": (dict(metadata=_meta(format="other-v9")), "metadata format"),
    "meta_shape_mismatch": (dict(metadata=_meta(obs_shape=[5])), "disagree with metadata"),
    "empty": (dict(observations=np.zeros((0, 4), np.float32)), "rows but observations has 0|holds no transitions"),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_malformed_files_give_one_line_errors(tmp_path, case):
    changes, pattern = BAD_CASES[case]
    path = _mutate(tmp_path, **changes)
    with pytest.raises(DemoError, match=pattern) as info:
        load_demonstrations(path)
    msg = str(info.value)
    assert "\n" not in msg and str(path) in msg


def test_env_mismatch(tmp_path):
    path = save_demonstrations(tmp_path / "d.npz", _demos())
    with pytest.raises(DemoError, match="recorded on Toy-v0, not HalfCheetah-v5"):
        load_demonstrations(path, env_id="HalfCheetah-v5")
    with pytest.raises(DemoError, match="4-dimensional, the env's are 17"):
        load_demonstrations(path, obs_dim=17)
    with pytest.raises(DemoError, match="actions are 2-dimensional"):
        load_demonstrations(path, action_dim=6)


def test_unreadable_files(tmp_path):
    with pytest.raises(DemoError, match="does not exist"):
        load_demonstrations(tmp_path / "nope.npz")
    with pytest.raises(DemoError, match="is a directory"):
        load_demonstrations(tmp_path)
    good = save_demonstrations(tmp_path / "d.npz", _demos()).read_bytes()
    (tmp_path / "trunc.npz").write_bytes(good[: len(good) // 2])
    with pytest.raises(DemoError, match="truncated or corrupt"):
        load_demonstrations(tmp_path / "trunc.npz")
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(DemoError, match="not a"):
        load_demonstrations(tmp_path / "text.npz")


class _Boom:
    def __reduce__(self):  # unpickling this would run code
        return (exec, ("raise SystemExit('pickle was executed')",))


def test_pickled_payloads_are_refused(tmp_path):
    arrays = _arrays(_demos())
    arrays["observations"] = np.array([_Boom()], dtype=object)
    _write_npz(tmp_path / "obj.npz", arrays)
    with pytest.raises(DemoError, match="pickled Python objects"):
        load_demonstrations(tmp_path / "obj.npz")
    # the tutorial's pickled .npy is refused unless imported explicitly
    np.save(tmp_path / "expert_data.npy", np.array({"states": np.zeros((5, 4)), "actions": np.zeros((5, 2))}, dtype=object), allow_pickle=True)
    with pytest.raises(DemoError, match="--import-pickled-npy"):
        load_demonstrations(tmp_path / "expert_data.npy")


def test_import_tutorial_npy_opt_in(tmp_path):
    rng = np.random.default_rng(0)
    states, actions = rng.normal(size=(25, 4)), rng.uniform(-1, 1, size=(25, 2))
    np.save(tmp_path / "expert_data.npy", np.array({"states": states, "actions": actions}, dtype=object), allow_pickle=True)
    with pytest.warns(UserWarning, match="pickle"):
        demos = import_pickled_npy(tmp_path / "expert_data.npy", "Toy-v0", [-1, -1], [1, 1], episode_length=10)
    assert demos.num_episodes == 3 and list(demos.episode_lengths) == [9, 9, 4]
    np.testing.assert_allclose(demos.next_observations[0], states[1], rtol=1e-6)
    assert demos.metadata["rewards_known"] is False
    save_demonstrations(tmp_path / "imported.npz", demos)
    load_demonstrations(tmp_path / "imported.npz", env_id="Toy-v0")
