"""Event types of contracts and assessment (registered on import)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from dayuan.notifications.events import register

SCORING_ASSIGNED = register("assessment.scoring_assigned", _("考核评分任务"))
RUN_PUBLISHED = register("assessment.run_published", _("考核结果公布"))
APPEAL_FILED = register("assessment.appeal_filed", _("考核申诉"))
APPEAL_DECIDED = register("assessment.appeal_decided", _("申诉处理结果"))
RUN_FINAL = register("assessment.run_final", _("考核结果确定"))
SURVEY_INVITED = register("assessment.survey_invited", _("满意度调查邀请"))
DEDUCTION_RECORDED = register("assessment.deduction_recorded", _("考核扣分"))
