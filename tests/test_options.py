"""An option declared once answers for its flag, its check and the bad values it must refuse."""

import pytest

from infomin_cli.errors import InfominError
from infomin_cli.options import Option, check_options
from infomin_cli.ranges import Range

QUEUE = Option("queue", 65536, "negatives in the queue", Range(1, 1 << 24), paper=65536)
MOMENTUM = Option("key_momentum", 0.999, "key encoder momentum", Range(0, 1, high_open=True))
LOSS = Option("bank_loss", "softmax", "softmax or nce", choices=("softmax", "nce"))
BLOCKS = Option("flow_blocks", 3, "coupling blocks", Range(1, 64), flag="--blocks")


def test_the_flag_is_the_name_with_dashes_unless_declared():
    assert MOMENTUM.cli_flag == "--key-momentum" and BLOCKS.cli_flag == "--blocks"


def test_a_given_value_comes_back_as_the_option_type():
    assert QUEUE.check("4096") == 4096 and isinstance(QUEUE.check(4096.0), int)
    assert MOMENTUM.check("0.99") == pytest.approx(0.99) and LOSS.check("nce") == "nce"


@pytest.mark.parametrize("option", [QUEUE, MOMENTUM, LOSS, BLOCKS])
def test_every_bad_value_it_lists_is_refused_in_one_line_naming_the_flag(option):
    assert option.bad_values()
    for value in option.bad_values():
        with pytest.raises(InfominError, match=option.cli_flag) as caught:
            option.check(value.strip("'"))
        assert "\n" not in str(caught.value)


def test_missing_options_take_their_defaults_and_unknown_ones_name_the_owner():
    assert check_options((QUEUE, MOMENTUM), {"queue": 4096}, "moco") == {"queue": 4096, "key_momentum": 0.999}
    with pytest.raises(InfominError, match="--bank-negatives is not an option of moco"):
        check_options((QUEUE, MOMENTUM), {"bank_negatives": 3}, "moco")


def test_a_switch_takes_true_or_false_and_nothing_else():
    switch = Option("symmetric", False, "both views query")
    assert switch.check(True) is True and switch.bad_values() == [] and switch.describe() == "true or false"
    with pytest.raises(InfominError, match="--symmetric 'yes' is not valid; it is a switch"):
        switch.check("yes")


def test_a_default_outside_its_choices_is_a_programming_error():
    with pytest.raises(TypeError):
        Option("bank_loss", "hinge", "", choices=("softmax", "nce"))
