"""The review group (信用修复绿色通道服务保障小组): its members' credentials, each scoped to the stages they decide."""
