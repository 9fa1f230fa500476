"""Pruning of backups on the host: only the newest are kept, only backup-shaped names are touched."""

import os

from ansible_collections.netkingdom.warden.plugins.module_utils._host.backups import backups_of, prune_backups


def make(directory, name):
    path = directory / name
    path.write_text(name)
    return path


def test_keeps_the_newest_and_never_touches_other_names(tmp_path):
    target = make(tmp_path, 'ops')
    stamps = ['2026-11-20@10:00:00', '2026-11-21@09:00:00', '2026-11-21@10:00:00', '2026-11-26@08:30:00']
    for pid, stamp in zip((99, 12, 7, 4711), stamps):
        make(tmp_path, 'ops.%d.%s~' % (pid, stamp))
    bystanders = ['ops.bak', 'ops.1.2026-11-20@10:00:00', 'ops2.1.2026-11-20@10:00:00~', 'x.ops.1.2026-11-20@10:00:00~',
                  'ops.1.2026-11-20@10:00~']
    for name in bystanders:
        make(tmp_path, name)
    assert [os.path.basename(p) for p in backups_of(str(target))] == [
        'ops.99.2026-11-20@10:00:00~', 'ops.12.2026-11-21@09:00:00~', 'ops.7.2026-11-21@10:00:00~',
        'ops.4711.2026-11-26@08:30:00~']
    removed, problems = prune_backups(str(target), 2)
    assert problems == [] and sorted(os.path.basename(p) for p in removed) == [
        'ops.12.2026-11-21@09:00:00~', 'ops.99.2026-11-20@10:00:00~']
    left = sorted(os.listdir(tmp_path))
    assert left == sorted(['ops', 'ops.7.2026-11-21@10:00:00~', 'ops.4711.2026-11-26@08:30:00~'] + bystanders)


def test_zero_keeps_every_backup_and_a_missing_directory_is_no_error(tmp_path):
    target = make(tmp_path, 'ca_user.pub')
    make(tmp_path, 'ca_user.pub.5.2026-11-20@10:00:00~')
    assert prune_backups(str(target), 0) == ([], [])
    assert len(backups_of(str(target))) == 1
    assert prune_backups(str(tmp_path / 'gone' / 'file'), 1) == ([], [])


def test_a_name_with_regex_characters_is_matched_literally(tmp_path):
    target = make(tmp_path, '20-netkingdom-warden.conf')
    make(tmp_path, '20-netkingdom-warden.conf.3.2026-11-20@10:00:00~')
    make(tmp_path, '20-netkingdom-wardenXconf.3.2026-11-20@10:00:00~')
    assert [os.path.basename(p) for p in backups_of(str(target))] == ['20-netkingdom-warden.conf.3.2026-11-20@10:00:00~']
