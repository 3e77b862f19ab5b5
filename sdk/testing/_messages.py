"""Message builders: realistic webcast messages for scripting the simulator, shaped like the ones TikTok sends.

Each builder returns a :class:`MessageSpec`, an immutable description of one message: its wire method and the
serialized message without its ``common`` identity. The simulator fills ``common.method``, ``msg_id``, ``room_id``
and ``create_time`` when it sends the message, so specs can be written before the room exists and reused freely.

Users are given by their @unique id (a string) or as a ready :class:`~tiktok_live._generated.pb.webcast_pb2.User`;
a string becomes a deterministic, realistic user (:func:`make_user`): ids, sec_uid, avatar and badges derived
from the name, so the same name is always the same user.
"""

from __future__ import annotations

import base64
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, TypeAlias

from google.protobuf.message import Message

from tiktok_live._generated.pb import webcast_pb2 as pb

__all__ = [
    "DEFAULT_VIEWER",
    "MessageSpec",
    "UserLike",
    "battle",
    "comment",
    "end",
    "follow",
    "gift",
    "gift_streak",
    "goal_update",
    "join",
    "like",
    "make_user",
    "pause",
    "poll",
    "raw",
    "room_user_seq",
    "share",
    "suspend",
    "unpause",
]

UserLike: TypeAlias = "str | pb.User"
"""A user: an @unique id (turned into a realistic user by :func:`make_user`) or a ready ``User`` message."""

DEFAULT_VIEWER: Final = "viewer"
"""The unique id builders use when no user is given."""

_CDN: Final = ("https://p16-sign-va.tiktokcdn.com", "https://p19-sign.tiktokcdn-us.com")
_CONTROL_PAUSED: Final = 1
_CONTROL_UNPAUSED: Final = 2
_CONTROL_ENDED: Final = 3
_CONTROL_SUSPENDED: Final = 4
_BATTLE_ACTIONS: Final = {"invite": 1, "reject": 2, "cancel": 3, "open": 4, "finish": 5, "cut_short": 6, "accept": 7}


@dataclass(frozen=True, slots=True)
class MessageSpec:
    """One scripted message: its wire ``method`` and its bytes.

    ``template`` is the serialized message of class ``message_class`` whose ``common`` block the simulator completes
    when sending (``method``, ``msg_id``, ``room_id``, ``create_time``; a display text set by the builder stays).
    A raw spec (:func:`raw`) has no ``message_class``: its template is sent exactly as given. ``ends_stream`` marks
    a control message that ends the LIVE (action 3 or 4), which a looping simulator leaves out.
    """

    method: str
    template: bytes
    message_class: type[Message] | None = None
    ends_stream: bool = False

    def render(self, *, msg_id: int, room_id: int, create_time: int) -> bytes:
        """The payload as sent: the template with its ``common`` identity filled in (raw specs: unchanged)."""
        if self.message_class is None:
            return self.template
        message = self.message_class.FromString(self.template)
        field = message.DESCRIPTOR.fields_by_name.get("common")
        if field is not None and field.message_type is pb.CommonMessageData.DESCRIPTOR:
            common = getattr(message, "common")  # noqa: B009  # every builder's class has it; checked above
            if isinstance(common, pb.CommonMessageData):
                common.method = common.method or self.method
                common.msg_id = msg_id
                common.room_id = room_id
                common.create_time = common.create_time or create_time
        return message.SerializeToString()

    def decode(self) -> Message | None:
        """The template as a message (``common`` identity not yet filled in); None for a raw spec."""
        return None if self.message_class is None else self.message_class.FromString(self.template)


def _spec(message: Message, *, ends_stream: bool = False) -> MessageSpec:
    return MessageSpec(
        method=message.DESCRIPTOR.name,
        template=message.SerializeToString(),
        message_class=type(message),
        ends_stream=ends_stream,
    )


def _rng(*parts: object) -> random.Random:
    """A generator seeded by ``parts``: the same inputs always give the same values (str seeds are stable)."""
    return random.Random(":".join(str(part) for part in parts))


def _image(path: str, size: int = 100) -> pb.ImageModel:
    uri = f"tos-maliva-avt-0068/{path}"
    return pb.ImageModel(
        m_urls=[f"{cdn}/{uri}~tplv-tiktokx-cropcenter:{size}:{size}.webp" for cdn in _CDN],
        m_uri=uri,
        width=size,
        height=size,
    )


def make_user(
    unique_id: str,
    nickname: str | None = None,
    *,
    moderator: bool = False,
    subscriber: bool = False,
    gifter_level: int | None = None,
    follower_count: int | None = None,
) -> pb.User:
    """A realistic, deterministic ``User`` for ``unique_id``.

    ``id`` (19 digits), ``sec_uid``, avatar (two CDN URLs), follower counts and a gifter-level badge (scene
    USER_GRADE) derive from the name; ``moderator`` adds an ADMIN badge and ``subscriber`` a SUBSCRIBER badge.
    """
    rng = _rng("user", unique_id)
    user_id = rng.randrange(6_800_000_000_000_000_000, 7_300_000_000_000_000_000)
    level = gifter_level if gifter_level is not None else rng.randint(1, 30)
    user = pb.User(
        id=user_id,
        id_str=str(user_id),
        nickname=nickname if nickname is not None else unique_id.replace("_", " ").replace(".", " ").title(),
        unique_id=unique_id,
        sec_uid="MS4wLjABAAAA" + base64.urlsafe_b64encode(rng.randbytes(48)).decode("ascii"),
        avatar_thumb=_image(f"{rng.getrandbits(64):016x}", 100),
        avatar_medium=_image(f"{rng.getrandbits(64):016x}", 720),
        follow_info=pb.FollowInfo(
            following_count=rng.randint(10, 900),
            follower_count=follower_count if follower_count is not None else rng.randint(0, 50_000),
            follow_status=rng.choice((0, 0, 1, 2)),
        ),
    )
    badge = user.badge_list.add()
    badge.badge_display_type = pb.BadgeStruct.BADGE_DISPLAY_TYPE_IMAGE
    badge.badge_scene = pb.BadgeStruct.BADGE_SCENE_TYPE_USER_GRADE
    badge.display = True
    badge.image_badge.badge_display_type = pb.ImageBadge.BADGE_DISPLAY_TYPE_IMAGE
    badge.image_badge.image_model.CopyFrom(_image(f"grade_badge_icon_lite_lv{level}", 32))
    badge.image_badge.image_model.content.level = level
    if moderator:
        admin = user.badge_list.add()
        admin.badge_display_type = pb.BadgeStruct.BADGE_DISPLAY_TYPE_TEXT
        admin.badge_scene = pb.BadgeStruct.BADGE_SCENE_TYPE_ADMIN
        admin.display = True
        admin.text_badge.key = "live_moderator_badge"
        admin.text_badge.default_pattern = "Moderator"
    if subscriber:
        sub = user.badge_list.add()
        sub.badge_display_type = pb.BadgeStruct.BADGE_DISPLAY_TYPE_IMAGE
        sub.badge_scene = pb.BadgeStruct.BADGE_SCENE_TYPE_SUBSCRIBER
        sub.display = True
        sub.image_badge.image_model.CopyFrom(_image("subscriber_badge_month_1", 32))
    return user


def _user(user: UserLike) -> pb.User:
    return make_user(user) if isinstance(user, str) else user


def _identity(user: pb.User) -> pb.UserIdentity:
    scenes = {badge.badge_scene for badge in user.badge_list}
    return pb.UserIdentity(
        is_subscriber_of_anchor=pb.BadgeStruct.BADGE_SCENE_TYPE_SUBSCRIBER in scenes,
        is_moderator_of_anchor=pb.BadgeStruct.BADGE_SCENE_TYPE_ADMIN in scenes,
        is_follower_of_anchor=user.follow_info.follow_status >= 1,
        is_mutual_following_with_anchor=user.follow_info.follow_status >= 2,
    )


def _display(key: str, pattern: str) -> pb.CommonMessageData:
    return pb.CommonMessageData(display_text=pb.Text(key=key, default_pattern=pattern), is_show_msg=True)


def comment(user: UserLike = DEFAULT_VIEWER, text: str = "hello", *, language: str = "en") -> MessageSpec:
    """A chat comment (``WebcastChatMessage``) by ``user``."""
    sender = _user(user)
    return _spec(
        pb.WebcastChatMessage(
            common=_display("", ""),
            user=sender,
            content=text,
            content_language=language,
            user_identity=_identity(sender),
        )
    )


def _gift(gift_id: int, name: str, diamond_count: int, gift_type: int) -> pb.Gift:
    slug = name.lower().replace(" ", "_")
    return pb.Gift(
        id=gift_id,
        name=name,
        describe=f"sent {name}",
        diamond_count=diamond_count,
        type=gift_type,
        combo=gift_type == 1,
        duration=1000 if gift_type == 1 else 5000,
        image=_image(f"webcast-va/gift_{slug}.png", 100),
        icon=_image(f"webcast-va/gift_{slug}_icon.png", 50),
    )


def gift(
    user: UserLike = DEFAULT_VIEWER,
    gift_id: int = 5655,
    name: str = "Rose",
    diamond_count: int = 1,
    repeat_count: int = 1,
    repeat_end: bool = True,
    gift_type: int = 1,
    *,
    group_id: int | None = None,
    first: bool | None = None,
) -> MessageSpec:
    """One ``WebcastGiftMessage``. ``gift_type=1`` is streakable, as on TikTok: it streaks while ``repeat_end``
    is False. Expensive gifts have another type and arrive once with ``repeat_end`` False (use :func:`gift` with
    ``gift_type=2, repeat_end=False``). ``group_id`` ties the messages of one streak together (default: derived
    from user and gift); ``first`` marks the first message of a streak (default: ``repeat_count == 1``).
    """
    sender = _user(user)
    group = group_id if group_id is not None else _rng("group", sender.id, gift_id).randrange(1, 2**53)
    streaking = gift_type == 1 and not repeat_end
    return _spec(
        pb.WebcastGiftMessage(
            common=_display("pm_mt_live_gift_msg", "{0:user} sent {1:gift} {2:string}"),
            gift_id=gift_id,
            repeat_count=repeat_count,
            combo_count=repeat_count,
            group_count=1,
            repeat_end=1 if repeat_end else 0,
            user=sender,
            group_id=group,
            gift=_gift(gift_id, name, diamond_count, gift_type),
            fan_ticket_count=diamond_count * repeat_count,
            send_type=1 if streaking else 0,
            is_first_sent=first if first is not None else repeat_count == 1,
            log_id=f"{group:x}{repeat_count:04d}",
            user_identity=_identity(sender),
        )
    )


def gift_streak(
    user: UserLike = DEFAULT_VIEWER,
    gift_id: int = 5655,
    name: str = "Rose",
    diamond_count: int = 1,
    *,
    repeats: int = 5,
) -> list[MessageSpec]:
    """A streak of a streakable gift sent ``repeats`` times: ``repeat_count`` 1..``repeats`` while streaking, then
    the end message (``repeat_end``, ``repeat_count=repeats``): ``repeats + 1`` messages, one group id. A gift sent
    once still gives two messages, start and end, as TikTok sends it."""
    if repeats < 1:
        raise ValueError("repeats must be at least 1")
    sender = _user(user)
    group = _rng("streak", sender.id, gift_id, repeats).randrange(1, 2**53)
    specs = [
        gift(sender, gift_id, name, diamond_count, count, False, 1, group_id=group, first=count == 1)
        for count in range(1, repeats + 1)
    ]
    specs.append(gift(sender, gift_id, name, diamond_count, repeats, True, 1, group_id=group, first=False))
    return specs


def like(user: UserLike = DEFAULT_VIEWER, count: int = 1, total: int | None = None) -> MessageSpec:
    """A ``WebcastLikeMessage``: ``count`` likes by ``user`` in this batch, ``total`` likes of the room so far."""
    return _spec(
        pb.WebcastLikeMessage(
            common=_display("pm_mt_msg_viewer", "{0:user} liked the LIVE"),
            user=_user(user),
            count=count,
            total=total if total is not None else count,
        )
    )


def join(user: UserLike = DEFAULT_VIEWER, member_count: int = 1) -> MessageSpec:
    """A ``WebcastMemberMessage`` (action 1, joined): ``user`` entered; ``member_count`` viewers are in the room."""
    joiner = _user(user)
    return _spec(
        pb.WebcastMemberMessage(
            common=_display("live_room_enter_toast", "{0:user} joined"),
            user=joiner,
            member_count=member_count,
            action=1,
            user_id=joiner.id,
            client_enter_source="homepage_hot-live_cell",
        )
    )


def follow(user: UserLike = DEFAULT_VIEWER, follow_count: int | None = None) -> MessageSpec:
    """A ``WebcastSocialMessage`` whose display key is ``pm_main_follow_message_viewer_2``: ``user`` followed."""
    follower = _user(user)
    return _spec(
        pb.WebcastSocialMessage(
            common=_display("pm_main_follow_message_viewer_2", "{0:user} followed the LIVE creator"),
            user=follower,
            action=1,
            follow_count=follow_count if follow_count is not None else _rng("follows", follower.id).randint(1, 9999),
        )
    )


def share(user: UserLike = DEFAULT_VIEWER, viewers: int | None = None) -> MessageSpec:
    """A share (``WebcastSocialMessage``): display key ``pm_mt_guidance_viewer_<viewers>_share`` when ``viewers``
    (the share brought that many viewers) is given, else ``pm_mt_guidance_share``."""
    key = f"pm_mt_guidance_viewer_{viewers}_share" if viewers is not None else "pm_mt_guidance_share"
    return _spec(
        pb.WebcastSocialMessage(
            common=_display(key, "{0:user} shared the LIVE"),
            user=_user(user),
            action=3,
            share_type=1,
            share_target="copy_link",
            share_count=viewers if viewers is not None else 1,
        )
    )


def room_user_seq(
    total: int = 1, total_user: int | None = None, ranks: Sequence[tuple[UserLike, int]] = ()
) -> MessageSpec:
    """A ``WebcastRoomUserSeqMessage``: ``total`` current viewers, ``total_user`` viewers so far, and the top
    viewers as ``(user, score)`` pairs (rank = position, 1-based)."""
    message = pb.WebcastRoomUserSeqMessage(
        common=_display("", ""),
        total=total,
        total_user=total_user if total_user is not None else total,
        popularity=total,
        pop_str=f"{total}",
    )
    for rank, (user, score) in enumerate(ranks, start=1):
        message.ranks.add(user=_user(user), score=score, rank=rank)
    return _spec(message)


def battle(
    opponent: UserLike = "rival",
    *,
    host: UserLike = "simulator",
    action: str | int = "open",
    host_score: int = 0,
    opponent_score: int = 0,
    battle_id: int | None = None,
    duration: int = 300,
) -> MessageSpec:
    """A ``WebcastLinkMicBattle`` between ``host`` and ``opponent``.

    ``action``: ``"invite"``, ``"accept"``, ``"open"`` (started), ``"finish"``, ``"cut_short"``, … or the raw
    number. Scores go into the armies; a finished battle also carries results (higher score wins, equal draws).
    """
    anchor, rival = _user(host), _user(opponent)
    code = _BATTLE_ACTIONS[action] if isinstance(action, str) else action
    ident = battle_id if battle_id is not None else _rng("battle", anchor.id, rival.id).randrange(1, 2**62)
    message = pb.WebcastLinkMicBattle(
        common=_display("", ""),
        battle_id=ident,
        action=pb.WebcastLinkMicBattle.BattleAction.ValueType(code),
        battle_setting=pb.BattleSetting(battle_id=ident, duration=duration, status=1, battle_type=1),
    )
    for user, score in ((anchor, host_score), (rival, opponent_score)):
        info = message.anchor_info.add(user_id=user.id)
        info.user_info.user.user_id = user.id
        info.user_info.user.nick_name = user.nickname
        info.user_info.user.display_id = user.unique_id
        info.user_info.user.avatar_thumb.CopyFrom(user.avatar_thumb)
        army = message.armies.add(user_id=user.id)
        army.user_armies.host_score = score
        army.user_armies.anchor_id_str = str(user.id)
    if code == _BATTLE_ACTIONS["finish"] or code == _BATTLE_ACTIONS["cut_short"]:
        for user, mine, theirs in ((anchor, host_score, opponent_score), (rival, opponent_score, host_score)):
            result = pb.BattleResult.RESULT_WIN if mine > theirs else pb.BattleResult.RESULT_LOSE
            if mine == theirs:
                result = pb.BattleResult.RESULT_DRAW
            message.battle_result[user.id].CopyFrom(pb.BattleResult(user_id=user.id, result=result, score=mine))
    return _spec(message)


def goal_update(
    description: str = "Goal: 100 Roses",
    progress: int = 0,
    target: int = 100,
    *,
    contributor: UserLike | None = None,
    contribute_count: int = 1,
    goal_id: int | None = None,
) -> MessageSpec:
    """A ``WebcastGoalUpdateMessage``: the LIVE goal ``description`` at ``progress`` of ``target`` (one sub-goal),
    optionally naming the ``contributor`` whose gift moved it."""
    ident = goal_id if goal_id is not None else _rng("goal", description).randrange(1, 2**62)
    message = pb.WebcastGoalUpdateMessage(
        common=_display("", ""),
        goal=pb.LiveStreamGoal(id=ident, id_str=str(ident), description=description, type=1, status=1),
        contribute_count=contribute_count,
        update_source=pb.WebcastGoalUpdateMessage.GOAL_MESSAGE_SOURCE_PROGRESS_UPDATE,
    )
    message.goal.sub_goals.add(type=1, id=ident + 1, id_str=str(ident + 1), progress=progress, target=target)
    if contributor is not None:
        user = _user(contributor)
        message.contributor_id = user.id
        message.contributor_id_str = str(user.id)
        message.contributor_display_id = user.unique_id
        message.contributor_avatar.CopyFrom(user.avatar_thumb)
    return _spec(message)


def poll(
    title: str = "Next song?",
    options: Sequence[str] = ("Yes", "No"),
    votes: Sequence[int] | None = None,
    *,
    phase: str = "start",
    poll_id: int | None = None,
    duration: int = 60,
) -> MessageSpec:
    """A ``WebcastPollMessage`` in ``phase`` ``"start"`` (``start_content``), ``"update"`` (``update_content``) or
    ``"end"`` (``end_content``), with one option per entry of ``options`` and its ``votes`` (default 0).
    The phase is carried by which content is set; ``message_type`` stays 0 (its values are undocumented)."""
    if phase not in ("start", "update", "end"):
        raise ValueError(f"phase must be 'start', 'update' or 'end', not {phase!r}")
    counts = list(votes) if votes is not None else [0] * len(options)
    if len(counts) != len(options):
        raise ValueError("votes must have one entry per option")
    ident = poll_id if poll_id is not None else _rng("poll", title).randrange(1, 2**62)
    message = pb.WebcastPollMessage(
        common=_display("", ""),
        poll_id=ident,
        poll_basic_info=pb.PollBasicInfo(title=title, poll_id_str=str(ident), poll_duration=duration),
    )
    option_infos = [
        pb.PollOptionInfo(votes=count, display_content=text, option_index=index)
        for index, (text, count) in enumerate(zip(options, counts, strict=True))
    ]
    if phase == "start":
        message.start_content.title = title
        message.start_content.option_list.extend(option_infos)
    elif phase == "update":
        message.update_content.option_list.extend(option_infos)
    else:
        message.end_content.option_list.extend(option_infos)
    return _spec(message)


def _control(action: int, tips: str) -> MessageSpec:
    return _spec(
        pb.WebcastControlMessage(common=_display("", ""), action=action, tips=tips),
        ends_stream=action in (_CONTROL_ENDED, _CONTROL_SUSPENDED),
    )


def pause() -> MessageSpec:
    """``WebcastControlMessage`` action 1: the host paused the LIVE."""
    return _control(_CONTROL_PAUSED, "The LIVE is paused")


def unpause() -> MessageSpec:
    """``WebcastControlMessage`` action 2: the host resumed the LIVE."""
    return _control(_CONTROL_UNPAUSED, "")


def end() -> MessageSpec:
    """``WebcastControlMessage`` action 3: the host ended the LIVE (the simulator then closes with 1000)."""
    return _control(_CONTROL_ENDED, "The LIVE has ended")


def suspend() -> MessageSpec:
    """``WebcastControlMessage`` action 4: TikTok suspended the LIVE (moderation)."""
    return _control(_CONTROL_SUSPENDED, "This LIVE has been suspended")


def raw(method: str, payload: bytes) -> MessageSpec:
    """A message sent exactly as given: any ``method`` name and payload (e.g. a captured one, or corrupt bytes)."""
    return MessageSpec(method=method, template=bytes(payload))
