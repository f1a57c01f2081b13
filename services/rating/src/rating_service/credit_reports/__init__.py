"""Free credit report (免费信用报告, 大信办字〔2020〕4号 三(一)): data model and PDF rendering."""

from rating_service.credit_reports.schemas import CreditReport
from rating_service.credit_reports.pdf import render_credit_report_pdf

__all__ = ["CreditReport", "render_credit_report_pdf"]
