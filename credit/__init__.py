"""Credit (信用): violation catalog and records, scores and tiers, the blacklist, public disclosure,
credit repair, and signed pushes to external credit platforms.

For the other modules (一处受罚，处处受限)::

    from credit.service import may_bid, may_be_drawn, standing, Subject

    may_bid(session, credit_code, settings=settings).raise_if_refused()  # 403 with the reason
    answer = may_be_drawn(session, expert_user_id, at=draw_time, settings=settings)
    if not answer.allowed: ...                              # answer.reason_zh / reason_en
    st = standing(session, Subject.company(code), at, settings=settings)  # tier, points, listing

See :func:`credit.service.standing.standing` for the exact rules and boundaries.
"""
