from flask import Blueprint, abort, jsonify

from .models import Post, User

bp = Blueprint("myapp", __name__)


@bp.route("/")
def index():
    posts = Post.query.filter(Post.status == "published").order_by(Post.created_at.desc()).all()
    return jsonify(posts=[post.to_dict() for post in posts])


@bp.route("/users/<int:user_id>")
def user(user_id):
    found = User.query.filter_by(id=user_id).first()
    if found is None:
        abort(404)
    return jsonify(found.to_dict())
