"""The demo app's models. They describe exactly the schema sql/migration/ builds."""
from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()

POST_STATUSES = ("draft", "published", "archived")


class Version(db.Model):
    """The recipe's one-row table: the schema version the database is at."""

    __tablename__ = "version"
    version_id = db.Column(db.Integer, primary_key=True)
    version = db.Column(db.Integer)


class User(db.Model):
    __tablename__ = "users"
    id = db.Column(db.Integer, primary_key=True)
    username = db.Column(db.String(80), nullable=False, unique=True)
    created_at = db.Column(db.DateTime, nullable=False, server_default=db.func.now())
    email = db.Column(db.String(255))

    def to_dict(self):
        return {"id": self.id, "username": self.username, "email": self.email}


class Post(db.Model):
    __tablename__ = "posts"
    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id"), nullable=False, index=True)
    title = db.Column(db.String(200), nullable=False)
    body = db.Column(db.Text)
    status = db.Column(db.Enum(*POST_STATUSES, name="post_status"), nullable=False,
                       server_default="draft")
    created_at = db.Column(db.DateTime, nullable=False, server_default=db.func.now())
    archived_at = db.Column(db.DateTime)

    author = db.relationship(User, backref="posts")

    def to_dict(self):
        return {"id": self.id, "title": self.title, "status": self.status,
                "author": self.author.username}
